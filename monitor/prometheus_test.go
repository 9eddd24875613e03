package monitor

import (
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Mirrors of the interfaces *Metrics must satisfy (ft.Metrics,
// server.Metrics, the filestore Metrics). The packages that define them
// import monitor or are built in parallel, so the real check lives with the
// integration test; these keep the method set from drifting meanwhile.
type (
	ftMetrics interface {
		FTState(state string)
		FTEpoch(e uint64)
		FTFailover()
		FTTimeToActive(detection, lockWait, recovery time.Duration)
		FTLockCheck(ok bool)
		FTFencingCheck(ok bool)
		FTHeartbeatSeen()
	}
	serverMetrics interface {
		PubAckLatency(d time.Duration)
		Redeliveries(n int)
		ClientHBFailure()
	}
	filestoreMetrics interface {
		FsyncLatency(d time.Duration, batch int)
	}
)

var (
	_ ftMetrics        = (*Metrics)(nil)
	_ serverMetrics    = (*Metrics)(nil)
	_ filestoreMetrics = (*Metrics)(nil)
)

// scrape GETs /metrics through the handler and parses the text format.
func scrape(t testing.TB, m *Monitor) map[string]*dto.MetricFamily {
	t.Helper()
	rec := get(t, m.Handler(), "/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample is one series: its labels as k=v,k=v (sorted) and its value.
func samples(t testing.TB, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType) map[string]float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s missing", name)
	}
	if f.GetType() != typ {
		t.Fatalf("metric %s has type %v, want %v", name, f.GetType(), typ)
	}
	out := make(map[string]float64)
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		var v float64
		switch typ {
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			v = float64(m.GetHistogram().GetSampleCount())
		case dto.MetricType_UNTYPED:
			v = m.GetUntyped().GetValue()
		}
		out[strings.Join(ls, ",")] = v
	}
	return out
}

func expectSamples(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, want map[string]float64) {
	t.Helper()
	got := samples(t, fams, name, typ)
	if len(got) != len(want) {
		t.Errorf("%s: got %v, want %v", name, got, want)
		return
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s{%s} = %v (present %v), want %v", name, k, g, ok, v)
		}
	}
}

func TestMetricsFromSource(t *testing.T) {
	src := newFakeSource()
	m := newTestMonitor(t, src, nil)
	fams := scrape(t, m)
	c, g := dto.MetricType_COUNTER, dto.MetricType_GAUGE
	expectSamples(t, fams, "nss_server_msgs_total", c, map[string]float64{"": 30})
	expectSamples(t, fams, "nss_server_bytes_total", c, map[string]float64{"": 3000})
	expectSamples(t, fams, "nss_server_channels", c, map[string]float64{"": 3})
	expectSamples(t, fams, "nss_server_subscriptions", c, map[string]float64{"": 6})
	expectSamples(t, fams, "nss_server_clients", c, map[string]float64{"": 3})
	expectSamples(t, fams, "nss_server_info", g, map[string]float64{
		"cluster_id=test-cluster,go_version=go1.26.0,role=active,server_id=SRVID," +
			"start_time=2026-11-28T17:02:03.123456789+01:00,state=FT_ACTIVE,version=0.1.0": 1,
	})
	expectSamples(t, fams, "nss_chan_msgs_total", c, map[string]float64{"channel=foo": 10, "channel=bar": 20, "channel=baz.x": 0})
	expectSamples(t, fams, "nss_chan_bytes_total", c, map[string]float64{"channel=foo": 1000, "channel=bar": 2000, "channel=baz.x": 0})
	expectSamples(t, fams, "nss_chan_last_seq", g, map[string]float64{"channel=foo": 12, "channel=bar": 20, "channel=baz.x": 0})
	expectSamples(t, fams, "nss_chan_subs_pending_count", g, map[string]float64{"channel=foo": 2, "channel=bar": 2, "channel=baz.x": 0})
	expectSamples(t, fams, "stanft_monitor_channels_omitted", g, map[string]float64{"": 0})
	for _, name := range []string{"nss_chan_subs_last_sent", "nss_chan_subs_max_inflight"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s present without PerSubscriptionMetrics", name)
		}
	}
	// Go runtime and process collectors.
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_open_fds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}

	// Scrape time: a change in the source shows at the next scrape.
	src.mu.Lock()
	src.serverz.TotalMsgs = 31
	src.serverz.State = "FT_STANDBY"
	src.mu.Unlock()
	fams = scrape(t, m)
	expectSamples(t, fams, "nss_server_msgs_total", c, map[string]float64{"": 31})
	info := samples(t, fams, "nss_server_info", g)
	for k := range info {
		if !strings.Contains(k, "role=standby") || !strings.Contains(k, "state=FT_STANDBY") {
			t.Errorf("info labels after standby: %s", k)
		}
	}
}

func TestMetricsPerSubscription(t *testing.T) {
	src := newFakeSource()
	// A second entry with the same label set must be merged, not fail the scrape.
	foo := src.channels["foo"]
	dup := foo.Subscriptions[0]
	dup.PendingCount, dup.LastSent = 5, 11
	foo.Subscriptions = append(foo.Subscriptions, dup)
	src.channels["foo"] = foo
	m := newTestMonitor(t, src, func(c *Config) { c.PerSubscriptionMetrics = true })
	fams := scrape(t, m)
	key := func(ch, client, inbox, queue string, durable, offline bool) string {
		b := map[bool]string{true: "true", false: "false"}
		return "channel=" + ch + ",client_id=" + client + ",inbox=" + inbox + ",is_durable=" + b[durable] +
			",is_offline=" + b[offline] + ",queue_name=" + queue
	}
	g := dto.MetricType_GAUGE
	expectSamples(t, fams, "nss_chan_subs_pending_count", g, map[string]float64{
		key("foo", "c1", "_INBOX.s1", "", false, false):              7,
		key("foo", "c2", "_INBOX.s2", "", true, false):               0,
		key("foo", "gone", "_INBOX.s3", "", true, true):              0,
		key("bar", "c1", "_INBOX.q1", "grp", false, false):           1,
		key("bar", "c2", "_INBOX.q2", "grp", false, false):           1,
		key("baz.x", "c3<&>", "_INBOX.dq", "dq:workers", true, true): 0,
	})
	last := samples(t, fams, "nss_chan_subs_last_sent", g)
	if v := last[key("foo", "c1", "_INBOX.s1", "", false, false)]; v != 11 {
		t.Errorf("merged last_sent = %v, want 11", v)
	}
	inflight := samples(t, fams, "nss_chan_subs_max_inflight", g)
	if len(inflight) != 6 || inflight[key("bar", "c2", "_INBOX.q2", "grp", false, false)] != 1024 {
		t.Errorf("max_inflight: %v", inflight)
	}
}

func TestMetricsChannelBoundAndBadLabel(t *testing.T) {
	src := newFakeSource()
	src.channels["bad\xff"] = Channelz{Name: "bad\xff", Msgs: 1}
	m := newTestMonitor(t, src, func(c *Config) { c.MaxChannelMetrics = 3 })
	fams := scrape(t, m)
	// Names sort as bad\xff, bar, baz.x, foo: foo is beyond the bound and
	// bad\xff cannot be a label value, so only bar and baz.x remain.
	expectSamples(t, fams, "nss_chan_msgs_total", dto.MetricType_COUNTER, map[string]float64{"channel=bar": 20, "channel=baz.x": 0})
	expectSamples(t, fams, "stanft_monitor_channels_omitted", dto.MetricType_GAUGE, map[string]float64{"": 1})
}

func TestInstruments(t *testing.T) {
	m := newTestMonitor(t, newFakeSource(), nil)
	ins := m.Instruments()

	// Before anything is fed: fixed label sets are present at zero, the
	// heartbeat age is absent.
	fams := scrape(t, m)
	expectSamples(t, fams, "stanft_ft_lock_checks_total", dto.MetricType_COUNTER, map[string]float64{"result=ok": 0, "result=fail": 0})
	expectSamples(t, fams, "stanft_ft_time_to_active_seconds", dto.MetricType_HISTOGRAM,
		map[string]float64{"phase=detection": 0, "phase=lock_wait": 0, "phase=recovery": 0})
	if _, ok := fams["stanft_ft_last_heartbeat_age_seconds"]; ok {
		t.Error("heartbeat age present before any heartbeat")
	}

	ins.FTState("STANDBY")
	ins.FTState("ACTIVE")
	ins.FTEpoch(42)
	ins.FTFailover()
	ins.FTTimeToActive(1200*time.Millisecond, 300*time.Millisecond, 2*time.Second)
	ins.FTLockCheck(true)
	ins.FTLockCheck(true)
	ins.FTLockCheck(false)
	ins.FTFencingCheck(true)
	ins.FTFencingCheck(false)
	ins.FTFencingCheck(false)
	ins.FTHeartbeatSeen()
	ins.PubAckLatency(3 * time.Millisecond)
	ins.PubAckLatency(-time.Millisecond) // clamped to 0, never a panic
	ins.Redeliveries(3)
	ins.Redeliveries(0)
	ins.ClientHBFailure()
	ins.FsyncLatency(2*time.Millisecond, 64)
	ins.FsyncLatency(time.Millisecond, 0)

	fams = scrape(t, m)
	c, g, h := dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_HISTOGRAM
	expectSamples(t, fams, "stanft_ft_state", g, map[string]float64{"state=STANDBY": 0, "state=ACTIVE": 1})
	expectSamples(t, fams, "stanft_ft_epoch", g, map[string]float64{"": 42})
	expectSamples(t, fams, "stanft_ft_failovers_total", c, map[string]float64{"": 1})
	expectSamples(t, fams, "stanft_ft_time_to_active_seconds", h,
		map[string]float64{"phase=detection": 1, "phase=lock_wait": 1, "phase=recovery": 1})
	expectSamples(t, fams, "stanft_ft_lock_checks_total", c, map[string]float64{"result=ok": 2, "result=fail": 1})
	expectSamples(t, fams, "stanft_ft_fencing_checks_total", c, map[string]float64{"result=ok": 1, "result=fail": 2})
	expectSamples(t, fams, "stanft_pub_ack_latency_seconds", h, map[string]float64{"": 2})
	expectSamples(t, fams, "stanft_fsync_latency_seconds", h, map[string]float64{"": 2})
	expectSamples(t, fams, "stanft_fsync_batch_size", h, map[string]float64{"": 1})
	expectSamples(t, fams, "stanft_redeliveries_total", c, map[string]float64{"": 3})
	expectSamples(t, fams, "stanft_client_hb_failures_total", c, map[string]float64{"": 1})
	age := samples(t, fams, "stanft_ft_last_heartbeat_age_seconds", g)[""]
	if age < 0 || age > 60 {
		t.Errorf("heartbeat age %v", age)
	}
	for _, f := range fams["stanft_ft_time_to_active_seconds"].GetMetric() {
		want := map[string]float64{"detection": 1.2, "lock_wait": 0.3, "recovery": 2}[f.GetLabel()[0].GetValue()]
		if got := f.GetHistogram().GetSampleSum(); math.Abs(got-want) > 1e-9 {
			t.Errorf("time to active %s sum %v, want %v", f.GetLabel()[0].GetValue(), got, want)
		}
	}
	if sum := fams["stanft_fsync_batch_size"].GetMetric()[0].GetHistogram().GetSampleSum(); sum != 64 {
		t.Errorf("fsync batch sum %v", sum)
	}
}

func TestFTStateBounded(t *testing.T) {
	ins := NewMetrics()
	for i := range 100 {
		ins.FTState(strings.Repeat("s", i+1))
	}
	ins.FTState("bad\xff")
	m := newTestMonitor(t, newFakeSource(), func(c *Config) { c.Metrics = ins })
	got := samples(t, scrape(t, m), "stanft_ft_state", dto.MetricType_GAUGE)
	if len(got) > maxFTStates {
		t.Errorf("%d state series, bound %d", len(got), maxFTStates)
	}
	ones := 0
	for _, v := range got {
		if v == 1 {
			ones++
		}
	}
	if ones != 1 || got["state=other"] != 1 {
		t.Errorf("state series: %v", got)
	}
}

// TestHeartbeatAge uses a synctest bubble: the age is computed at scrape
// time from the fake clock.
func TestHeartbeatAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestMonitor(t, newFakeSource(), nil)
		m.Instruments().FTHeartbeatSeen()
		time.Sleep(3 * time.Second)
		got := samples(t, scrape(t, m), "stanft_ft_last_heartbeat_age_seconds", dto.MetricType_GAUGE)[""]
		if got != 3 {
			t.Errorf("age %v, want 3", got)
		}
		m.Instruments().FTHeartbeatSeen()
		time.Sleep(500 * time.Millisecond)
		got = samples(t, scrape(t, m), "stanft_ft_last_heartbeat_age_seconds", dto.MetricType_GAUGE)[""]
		if got != 0.5 {
			t.Errorf("age %v, want 0.5", got)
		}
	})
}

func TestNilMetricsNoop(t *testing.T) {
	var ins *Metrics
	ins.FTState("x")
	ins.FTEpoch(1)
	ins.FTFailover()
	ins.FTTimeToActive(1, 2, 3)
	ins.FTLockCheck(true)
	ins.FTFencingCheck(false)
	ins.FTHeartbeatSeen()
	ins.PubAckLatency(1)
	ins.Redeliveries(1)
	ins.ClientHBFailure()
	ins.FsyncLatency(1, 1)
}

// TestSharedRegistry: two monitors on one registry (cmd restarting the
// monitor, tests) do not fail on the Go/process collectors.
func TestSharedRegistry(t *testing.T) {
	m1 := newTestMonitor(t, newFakeSource(), nil)
	m2 := newTestMonitor(t, newFakeSource(), func(c *Config) { c.Registry = m1.Registry() })
	if m2.Registry() != m1.Registry() {
		t.Fatal("registry not shared")
	}
	scrape(t, m2)
}

func BenchmarkScrape(b *testing.B) {
	src := newFakeSource()
	for i := range 100 {
		name := "chan." + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "." + time.Duration(i).String()
		src.channels[name] = Channelz{Name: name, Msgs: i, LastSeq: uint64(i), Subscriptions: src.channels["foo"].Subscriptions}
	}
	m := newTestMonitor(b, src, nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := get(b, m.Handler(), "/metrics")
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
