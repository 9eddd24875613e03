package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/stan.go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/monitor"
)

// scrapeMetrics fetches and parses a member's /metrics with the Prometheus
// text parser.
func scrapeMetrics(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := httpGet(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("%s/metrics: %d", base, code)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse %s/metrics: %v", base, err)
	}
	return fams
}

// metricValue returns the value of the sample of family name whose labels
// include every label in want, and whether there is one.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetUntyped() != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// TestRunFTMonitoringAfterFailover: after a known workload on the active
// and a graceful failover, the new active's /metrics (parsed with the
// Prometheus text parser) and /streaming endpoints show the recovered
// state, its new epoch and the failover; before it, the standby shows
// itself as such.
func TestRunFTMonitoringAfterFailover(t *testing.T) {
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	ma, mb := testenv.FreePort(t), testenv.FreePort(t)
	base := []string{"-ns", url, "-a", "127.0.0.1", "-cid", "mf", "-st", "FILE", "--dir", dir, "--ft_group", "grp",
		"--ft_hb_interval", "100ms", "--ft_hb_missed_interval", "400ms"}
	a := startRun(t, append(base, "-m", strconv.Itoa(ma))...)
	sc := stanConnect(t, "mf", "worker", url, 10*time.Second)
	for i := range 5 {
		if err := sc.Publish("orders", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan uint64, 5)
	dur, err := sc.Subscribe("orders", func(m *stan.Msg) { got <- m.Sequence },
		stan.DurableName("audit"), stan.DeliverAllAvailable())
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("durable got fewer than 5 messages")
		}
	}
	if err := dur.Close(); err != nil { // an offline durable, kept across the failover
		t.Fatal(err)
	}
	standbyURL := "http://127.0.0.1:" + strconv.Itoa(mb)
	startRun(t, append(base, "-m", strconv.Itoa(mb))...)
	waitHTTP(t, standbyURL+"/readyz", 200, 10*time.Second)

	fams := scrapeMetrics(t, standbyURL)
	if v, ok := metricValue(fams, "stanft_ft_state", map[string]string{"state": "standby"}); !ok || v != 1 {
		t.Errorf("standby: stanft_ft_state{state=standby} = %v, %v", v, ok)
	}
	if v, ok := metricValue(fams, "nss_server_info", map[string]string{"state": "FT_STANDBY"}); !ok || v != 1 {
		t.Errorf("standby: nss_server_info{state=FT_STANDBY} = %v, %v", v, ok)
	}

	if code := a.stop(t, nil); code != 0 {
		t.Fatalf("active exit %d", code)
	}
	waitHTTP(t, standbyURL+"/streaming/isFTActive", 200, 10*time.Second)

	fams = scrapeMetrics(t, standbyURL)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"stanft_ft_epoch", nil, 2},
		{"stanft_ft_failovers_total", nil, 1},
		{"stanft_ft_state", map[string]string{"state": "active"}, 1},
		{"nss_server_info", map[string]string{"state": "FT_ACTIVE"}, 1},
		{"nss_server_channels", nil, 1},
		{"nss_server_msgs_total", nil, 5},
		{"nss_chan_msgs_total", map[string]string{"channel": "orders"}, 5},
		{"nss_chan_last_seq", map[string]string{"channel": "orders"}, 5},
	} {
		if v, ok := metricValue(fams, c.name, c.labels); !ok || v != c.want {
			t.Errorf("new active: %s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if _, ok := fams["stanft_ft_time_to_active_seconds"]; !ok {
		t.Error("new active: no stanft_ft_time_to_active_seconds")
	}

	code, body := httpGet(t, standbyURL+"/streaming/channelsz?channel=orders&subs=1")
	if code != 200 {
		t.Fatalf("channelsz: %d %s", code, body)
	}
	var ch monitor.Channelz
	if err := json.Unmarshal([]byte(body), &ch); err != nil {
		t.Fatal(err)
	}
	if ch.Msgs != 5 || ch.FirstSeq != 1 || ch.LastSeq != 5 || len(ch.Subscriptions) != 1 {
		t.Fatalf("channelsz after failover: %+v", ch)
	}
	if s := ch.Subscriptions[0]; s.DurableName != "audit" || !s.IsDurable || !s.IsOffline || s.LastSent != 5 {
		t.Errorf("offline durable after failover: %+v", s)
	}
	var sz monitor.Serverz
	_, body = httpGet(t, standbyURL+"/streaming/serverz")
	if err := json.Unmarshal([]byte(body), &sz); err != nil {
		t.Fatal(err)
	}
	if sz.State != "FT_ACTIVE" || sz.ClusterID != "mf" || sz.Channels != 1 || sz.TotalMsgs != 5 {
		t.Errorf("serverz after failover: %+v", sz)
	}
}

// waitHTTP polls url until it answers code, or fails the test.
func waitHTTP(t *testing.T, url string, code int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, _ := httpGet(t, url)
		if got == code {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d within %v", url, got, code, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
