package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/stan.go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stanft/stanft/filestore"
	"github.com/stanft/stanft/ft"
	"github.com/stanft/stanft/monitor"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/server/servertest"
)

// The instruments satisfy the interfaces of the packages that feed them.
// These packages import monitor (server) or are independent of it (ft,
// filestore); an external test package can import them all without a cycle.
var (
	_ ft.Metrics        = (*monitor.Metrics)(nil)
	_ server.Metrics    = (*monitor.Metrics)(nil)
	_ filestore.Metrics = (*monitor.Metrics)(nil)
	_ monitor.Source    = (*server.Server)(nil)
)

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getJSON(t *testing.T, h http.Handler, target string, v any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: status %d: %s", target, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", target, ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("%s: %v", target, err)
	}
}

// subKey identifies a subscription independently of its random inboxes.
func subKey(s monitor.Subscriptionz) string {
	return fmt.Sprintf("%s/%s/%s", s.ClientID, s.DurableName, s.QueueName)
}

// checkSubs compares subscriptions with the expected ones, ignoring order
// and the generated inboxes (which must be set).
func checkSubs(t *testing.T, where string, got, want []monitor.Subscriptionz) {
	t.Helper()
	byKey := make(map[string]monitor.Subscriptionz, len(got))
	for _, s := range got {
		if s.Inbox == "" || s.AckInbox == "" {
			t.Errorf("%s: %s has an empty inbox: %+v", where, subKey(s), s)
		}
		s.Inbox, s.AckInbox = "", ""
		byKey[subKey(s)] = s
	}
	if len(byKey) != len(got) || len(got) != len(want) {
		t.Errorf("%s: got %d subscriptions %v, want %d", where, len(got), keys(byKey), len(want))
	}
	for _, w := range want {
		g, ok := byKey[subKey(w)]
		if !ok {
			t.Errorf("%s: missing %s", where, subKey(w))
			continue
		}
		if g != w {
			t.Errorf("%s: %s\n got %+v\nwant %+v", where, subKey(w), g, w)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func connect(t *testing.T, url, id string) stan.Conn {
	t.Helper()
	sc, err := stan.Connect("test-cluster", id, stan.NatsURL(url), stan.ConnectWait(5*time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}

// TestIntegration runs a known workload against a real server with the
// stan.go client (plain, durable, queue, durable queue subscriptions, an
// offline durable, an offline durable queue group) and checks every
// endpoint, the JSON and /metrics agreeing.
func TestIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("real server and clients")
	}
	ins := monitor.NewMetrics()
	cfg := servertest.Config(t)
	cfg.Metrics = ins
	srv, url := servertest.StartServer(t, cfg)
	mon, err := monitor.New(monitor.Config{
		Source:                 srv,
		Logger:                 servertest.Logger(t, "monitor"),
		Metrics:                ins,
		PerSubscriptionMetrics: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := mon.Handler()
	noop := func(*stan.Msg) {}

	c1 := connect(t, url, "c1")
	if _, err := c1.Subscribe("foo", noop, stan.SetManualAckMode(), stan.MaxInflight(2), stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	c2 := connect(t, url, "c2")
	if _, err := c2.Subscribe("foo", noop, stan.DurableName("dur"), stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	c3 := connect(t, url, "c3")
	if _, err := c3.QueueSubscribe("bar", "grp", noop, stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	c4 := connect(t, url, "c4")
	if _, err := c4.QueueSubscribe("bar", "workers", noop, stan.DurableName("dq"), stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	// c5 leaves an offline durable; c6 leaves an offline durable queue group.
	c5 := connect(t, url, "c5")
	if _, err := c5.Subscribe("foo", noop, stan.DurableName("old"), stan.AckWait(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	c6 := connect(t, url, "c6")
	if _, err := c6.QueueSubscribe("bar", "gone", noop, stan.DurableName("dq2")); err != nil {
		t.Fatal(err)
	}
	if err := c5.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c6.Close(); err != nil {
		t.Fatal(err)
	}
	pub := connect(t, url, "pub")
	for i := range 5 {
		if err := pub.Publish("foo", []byte(fmt.Sprintf("foo-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := pub.Publish("bar", []byte(fmt.Sprintf("bar-message-%d", i))); err != nil {
			t.Fatal(err)
		}
	}

	sub := func(client, durable, queue string, offline bool, inflight, ackWait int, lastSent uint64, pending int) monitor.Subscriptionz {
		return monitor.Subscriptionz{
			ClientID: client, DurableName: durable, QueueName: queue, IsDurable: durable != "", IsOffline: offline,
			MaxInflight: inflight, AckWait: ackWait, LastSent: lastSent, PendingCount: pending, IsStalled: pending >= inflight,
		}
	}
	wantFoo := []monitor.Subscriptionz{
		sub("c1", "", "", false, 2, 30, 2, 2),
		sub("c2", "dur", "", false, 1024, 30, 5, 0),
		sub("c5", "old", "", true, 1024, 5, 0, 0),
	}
	// Durable queue members show the group as durable:group, no
	// durable_name, and is_durable (SPEC §9, reference behaviour).
	durableQueue := func(s monitor.Subscriptionz) monitor.Subscriptionz {
		s.DurableName, s.IsDurable = "", true
		return s
	}
	wantBar := []monitor.Subscriptionz{
		sub("c3", "", "grp", false, 1024, 30, 3, 0),
		durableQueue(sub("c4", "", "dq:workers", false, 1024, 30, 3, 0)),
		durableQueue(sub("c6", "", "dq2:gone", true, 1024, 30, 0, 0)),
	}
	// Deliveries and acks are asynchronous: wait for the expected state.
	eventually(t, "channel state", func() error {
		for name, want := range map[string][]monitor.Subscriptionz{"foo": wantFoo, "bar": wantBar} {
			c, ok := srv.Channel(name, true)
			if !ok {
				return fmt.Errorf("no channel %s", name)
			}
			for _, w := range want {
				found := false
				for _, g := range c.Subscriptions {
					if subKey(g) == subKey(w) && g.LastSent == w.LastSent && g.PendingCount == w.PendingCount {
						found = true
					}
				}
				if !found {
					return fmt.Errorf("%s: %s not yet at last_sent %d pending %d: %+v", name, subKey(w), w.LastSent, w.PendingCount, c.Subscriptions)
				}
			}
		}
		return nil
	})

	// serverz
	var sz monitor.Serverz
	getJSON(t, h, "/streaming/serverz", &sz)
	if sz.ClusterID != "test-cluster" || sz.ServerID != srv.ServerID() || sz.State != "STANDALONE" ||
		sz.Clients != 5 || sz.Channels != 2 || sz.Subscriptions != 6 || sz.TotalMsgs != 8 ||
		sz.InMsgs != 8 || sz.OutMsgs < 13 || sz.GoVersion == "" || sz.Uptime == "" ||
		time.Since(sz.Now) > time.Minute || sz.Start.After(sz.Now) {
		t.Errorf("serverz: %+v", sz)
	}

	// storez
	var st monitor.Storez
	getJSON(t, h, "/streaming/storez", &st)
	if st.Type != "MEMORY" || st.ClusterID != "test-cluster" || st.TotalMsgs != 8 || st.TotalBytes != sz.TotalBytes || st.TotalBytes == 0 {
		t.Errorf("storez: %+v (serverz total_bytes %d)", st, sz.TotalBytes)
	}

	// channelsz: names, then full channels, then one channel.
	var names monitor.Channelsz
	getJSON(t, h, "/streaming/channelsz", &names)
	if !reflect.DeepEqual(names.Names, []string{"bar", "foo"}) || names.Channels != nil || names.Count != 2 || names.Total != 2 {
		t.Errorf("channelsz: %+v", names)
	}
	var chans monitor.Channelsz
	getJSON(t, h, "/streaming/channelsz?subs=1", &chans)
	if chans.Names != nil || len(chans.Channels) != 2 || chans.Channels[0].Name != "bar" || chans.Channels[1].Name != "foo" {
		t.Fatalf("channelsz?subs=1: %+v", chans)
	}
	var totalBytes uint64
	for _, c := range chans.Channels {
		totalBytes += c.Bytes
		want := map[string]struct {
			msgs        int
			first, last uint64
			subs        []monitor.Subscriptionz
		}{"foo": {5, 1, 5, wantFoo}, "bar": {3, 1, 3, wantBar}}[c.Name]
		if c.Msgs != want.msgs || c.FirstSeq != want.first || c.LastSeq != want.last || c.SubsCount != len(want.subs) || c.Bytes == 0 {
			t.Errorf("channel %s: %+v", c.Name, c)
		}
		checkSubs(t, "channelsz "+c.Name, c.Subscriptions, want.subs)
		var one, oneNoSubs monitor.Channelz
		getJSON(t, h, "/streaming/channelsz?subs=1&channel="+c.Name, &one)
		if !reflect.DeepEqual(one, c) {
			t.Errorf("channel=%s differs from its channelsz entry:\n%+v\n%+v", c.Name, one, c)
		}
		getJSON(t, h, "/streaming/channelsz?channel="+c.Name, &oneNoSubs)
		c.Subscriptions = nil
		if !reflect.DeepEqual(oneNoSubs, c) {
			t.Errorf("channel=%s without subs: %+v, want %+v", c.Name, oneNoSubs, c)
		}
	}
	if totalBytes != sz.TotalBytes {
		t.Errorf("channel bytes sum %d, serverz total_bytes %d", totalBytes, sz.TotalBytes)
	}

	// clientsz
	var cls monitor.Clientsz
	getJSON(t, h, "/streaming/clientsz?subs=1", &cls)
	wantClients := map[string][]monitor.Subscriptionz{
		"c1": wantFoo[:1], "c2": wantFoo[1:2], "c3": wantBar[:1], "c4": wantBar[1:2], "pub": nil,
	}
	var ids []string
	for _, c := range cls.Clients {
		ids = append(ids, c.ID)
		if !strings.HasPrefix(c.HBInbox, "_INBOX.") {
			t.Errorf("client %s hb_inbox %q", c.ID, c.HBInbox)
		}
		want := wantClients[c.ID]
		if c.SubsCount != len(want) {
			t.Errorf("client %s subs_count %d, want %d", c.ID, c.SubsCount, len(want))
		}
		var got []monitor.Subscriptionz
		for ch, subs := range c.Subscriptions {
			for _, s := range subs {
				if (ch == "foo") != (s.QueueName == "") {
					t.Errorf("client %s: subscription %s listed under %s", c.ID, subKey(s), ch)
				}
			}
			got = append(got, subs...)
		}
		checkSubs(t, "client "+c.ID, got, want)
		var one monitor.Clientz
		getJSON(t, h, "/streaming/clientsz?subs=1&client="+c.ID, &one)
		if !reflect.DeepEqual(one, c) {
			t.Errorf("client=%s differs from its clientsz entry", c.ID)
		}
	}
	if !reflect.DeepEqual(ids, []string{"c1", "c2", "c3", "c4", "pub"}) || cls.Count != 5 || cls.Total != 5 {
		t.Errorf("clientsz ids %v count %d total %d", ids, cls.Count, cls.Total)
	}
	var page monitor.Clientsz
	getJSON(t, h, "/streaming/clientsz?offset=3&limit=1", &page)
	if page.Count != 1 || page.Total != 5 || len(page.Clients) != 1 || page.Clients[0].ID != "c4" || page.Clients[0].Subscriptions != nil {
		t.Errorf("clientsz page: %+v", page)
	}

	// 404s and isFTActive on a standalone server.
	for target, want := range map[string]string{
		"/streaming/clientsz?client=c5":     "Client c5 not found\n",
		"/streaming/channelsz?channel=nope": "Channel nope not found\n",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusNotFound || rec.Body.String() != want {
			t.Errorf("%s: %d %q", target, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/streaming/isFTActive", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("isFTActive on a standalone server: %d", rec.Code)
	}
	srv.SetState("FT_ACTIVE")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/streaming/isFTActive", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("isFTActive on an FT active: %d %q", rec.Code, rec.Body)
	}
	srv.SetState("STANDALONE")

	// /metrics agrees with the JSON.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		for _, m := range fams[name].GetMetric() {
			match := true
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					match = false
				}
			}
			if match {
				switch {
				case m.Counter != nil:
					return m.GetCounter().GetValue()
				case m.Gauge != nil:
					return m.GetGauge().GetValue()
				case m.Histogram != nil:
					return float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		t.Errorf("%s%v not found", name, labels)
		return -1
	}
	for name, want := range map[string]float64{
		"nss_server_msgs_total":    8,
		"nss_server_bytes_total":   float64(sz.TotalBytes),
		"nss_server_channels":      2,
		"nss_server_clients":       5,
		"nss_server_subscriptions": 6,
	} {
		if got := value(name, nil); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := value("nss_chan_last_seq", map[string]string{"channel": "foo"}); got != 5 {
		t.Errorf("nss_chan_last_seq{foo} = %v", got)
	}
	if got := value("nss_chan_subs_pending_count", map[string]string{"channel": "foo", "client_id": "c1"}); got != 2 {
		t.Errorf("pending of c1 = %v", got)
	}
	if got := value("nss_chan_subs_last_sent", map[string]string{"channel": "bar", "client_id": "c6", "is_offline": "true"}); got != 0 {
		t.Errorf("last_sent of the offline group = %v", got)
	}
	if got := value("nss_server_info", map[string]string{"state": "STANDALONE", "role": "standalone", "cluster_id": "test-cluster"}); got != 1 {
		t.Errorf("nss_server_info = %v", got)
	}
	if got := value("stanft_pub_ack_latency_seconds", nil); got < 1 {
		t.Errorf("stanft_pub_ack_latency_seconds count %v: the server did not feed the instruments", got)
	}
	if fams["nss_server_info"].GetType() != dto.MetricType_GAUGE {
		t.Errorf("nss_server_info type %v", fams["nss_server_info"].GetType())
	}
}

// TestOfflineKeepsStalled: a durable that goes offline (sub Close) and a
// durable queue group parked as a shadow (connection close) keep the
// is_stalled they had when they left, as the reference does (its
// subStore.Remove never clears the flag; a resume recomputes it, SPEC
// §4.8); after a restart, recovery sets it again for every sub whose
// pending reached its max_inflight, offline ones included (the reference's
// recoverOneSub). Only a resume clears it.
func TestOfflineKeepsStalled(t *testing.T) {
	if testing.Short() {
		t.Skip("real server and clients")
	}
	dir := t.TempDir()
	url := servertest.StartNATS(t)
	start := func() (*server.Server, http.Handler, func()) {
		t.Helper()
		fcfg := filestore.DefaultConfig()
		fcfg.DoSync = false
		st, err := filestore.Open(dir, fcfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg := servertest.Config(t)
		cfg.NATSURL = url
		srv, err := server.New(cfg, st)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Activate(ctx); err != nil {
			t.Fatal(err)
		}
		mon, err := monitor.New(monitor.Config{Source: srv, Logger: servertest.Logger(t, "monitor")})
		if err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		stop := func() {
			once.Do(func() {
				if err := srv.Close(); err != nil {
					t.Errorf("close server: %v", err)
				}
				_ = st.Close()
			})
		}
		t.Cleanup(stop)
		return srv, mon.Handler(), stop
	}
	_, h, stop := start()
	noop := func(*stan.Msg) {}
	pub := connect(t, url, "pub")
	for i := range 5 {
		if err := pub.Publish("st", []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	a := connect(t, url, "a")
	full, err := a.Subscribe("st", noop, stan.DurableName("full"), stan.DeliverAllAvailable(), stan.SetManualAckMode(), stan.MaxInflight(2))
	if err != nil {
		t.Fatal(err)
	}
	roomy, err := a.Subscribe("st", noop, stan.DurableName("roomy"), stan.DeliverAllAvailable(), stan.SetManualAckMode(), stan.MaxInflight(10))
	if err != nil {
		t.Fatal(err)
	}
	b := connect(t, url, "b")
	if _, err := b.QueueSubscribe("st", "g", noop, stan.DurableName("q"), stan.DeliverAllAvailable(), stan.SetManualAckMode(), stan.MaxInflight(3)); err != nil {
		t.Fatal(err)
	}
	type state struct {
		offline, stalled bool
		pending          int
	}
	expect := func(what string, want map[string]state) {
		t.Helper()
		eventually(t, what, func() error {
			var cz monitor.Channelz
			getJSON(t, h, "/streaming/channelsz?channel=st&subs=1", &cz)
			got := make(map[string]state)
			for _, s := range cz.Subscriptions {
				got[s.DurableName+s.QueueName] = state{s.IsOffline, s.IsStalled, s.PendingCount}
			}
			if !reflect.DeepEqual(got, want) {
				return fmt.Errorf("got %+v, want %+v", got, want)
			}
			return nil
		})
	}
	expect("online", map[string]state{
		"full":  {false, true, 2},
		"roomy": {false, false, 5},
		"q:g":   {false, true, 3},
	})
	if err := full.Close(); err != nil {
		t.Fatal(err)
	}
	if err := roomy.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	offline := map[string]state{
		"full":  {true, true, 2},
		"roomy": {true, false, 5},
		"q:g":   {true, true, 3},
	}
	expect("offline", offline)

	stop()
	_, h, _ = start()
	expect("offline after a restart", offline)

	// Resumed with room for its pending messages: no longer stalled.
	if _, err := a.Subscribe("st", noop, stan.DurableName("full"), stan.SetManualAckMode(), stan.MaxInflight(10)); err != nil {
		t.Fatal(err)
	}
	expect("resumed", map[string]state{
		"full":  {false, false, 5},
		"roomy": {true, false, 5},
		"q:g":   {true, true, 3},
	})
}
