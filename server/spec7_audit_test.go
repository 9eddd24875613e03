package server_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/filestore"
	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/server/servertest"
	"github.com/stanft/stanft/store"
)

// startMemLogged starts a memory-store server with adjusted limits whose
// log goes to buf.
func startMemLogged(t *testing.T, buf *testenv.SyncBuffer, mutate func(*store.Limits)) (*server.Server, string) {
	t.Helper()
	mcfg := memstore.DefaultConfig()
	if mutate != nil {
		mutate(&mcfg.Limits)
	}
	lg := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: buf})
	mcfg.Logger = lg
	st, err := memstore.New(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := servertest.Config(t)
	cfg.ClusterID = clusterID
	cfg.Logger = lg
	return servertest.StartServerWithStore(t, cfg, st)
}

// Offline durables and durable queue shadows count against max
// subscriptions (SPEC §7.2).
func TestSpec7MaxSubsCountsOfflineAndShadows(t *testing.T) {
	_, url := startWithLimits(t, func(l *store.Limits) { l.MaxSubscriptions = 2 })
	sc := connect(t, url, "c")
	noop := func(*stan.Msg) {}
	d, err := sc.Subscribe("foo", noop, stan.DurableName("d"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := sc.QueueSubscribe("foo", "g", noop, stan.DurableName("dq"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo", noop); err == nil || err.Error() != "too many subscriptions per channel" {
		t.Fatalf("third sub: %v", err)
	}
	// Resuming the offline durable and the shadow is still allowed.
	if _, err := sc.Subscribe("foo", noop, stan.DurableName("d")); err != nil {
		t.Fatalf("durable resume: %v", err)
	}
	if _, err := sc.QueueSubscribe("foo", "g", noop, stan.DurableName("dq")); err != nil {
		t.Fatalf("shadow resume: %v", err)
	}
}

// Max msgs/bytes drop the oldest but keep the newest even when it alone is
// over the bytes limit; the warning is logged once per channel (SPEC §7.2).
func TestSpec7LimitsKeepOneWarnOnce(t *testing.T) {
	var buf testenv.SyncBuffer
	s, url := startMemLogged(t, &buf, func(l *store.Limits) { l.MaxBytes = 10 })
	sc := connect(t, url, "c")
	for i := 0; i < 4; i++ {
		if err := sc.Publish("foo", []byte("0123456789abcdef")); err != nil {
			t.Fatal(err)
		}
	}
	cz, _ := s.Channel("foo", false)
	if cz.Msgs != 1 || cz.FirstSeq != 4 || cz.LastSeq != 4 {
		t.Fatalf("channel: %+v", cz)
	}
	const w = `Reached limits for store "foo" (msgs=`
	if n := strings.Count(buf.String(), w); n != 1 {
		t.Fatalf("warning logged %d times:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "), dropping old messages to make room for new ones") {
		t.Fatalf("warning text:\n%s", buf.String())
	}
}

// Max age expires messages on a FILE store too, and the sequence goes on
// (SPEC §7.2).
func TestSpec7MaxAgeFile(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fcfg := filestore.DefaultConfig()
	fcfg.DoSync = false
	fcfg.Limits.MaxAge = 300 * time.Millisecond
	st, err := filestore.Open(dir, fcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := activate(t, cfg, st)
	defer s.Close()
	sc := connect(t, url, "c")
	publishN(t, sc, "foo", 3)
	waitFor(t, 4*time.Second, "expiry", func() bool {
		cz, _ := s.Channel("foo", false)
		return cz.Msgs == 0
	})
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h, stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	noMsg(t, ch, 300*time.Millisecond)
	publishN(t, sc, "foo", 1)
	if m := recv(t, ch, 2*time.Second); m.Sequence != 4 {
		t.Fatalf("got seq %d", m.Sequence)
	}
}

// Per-channel limits: most specific match wins, unset fields inherit from
// the next wider match then global; -1 (config 0) is unlimited.
func TestSpec7PerChannelInheritance(t *testing.T) {
	s, url := startWithLimits(t, func(l *store.Limits) {
		l.MaxMsgs = 2
		l.PerChannel = map[string]*store.ChannelLimits{
			"foo.>":     {MaxMsgs: 5, MaxSubscriptions: 1},
			"foo.bar":   {MaxBytes: 1 << 20},
			"foo.*":     {MaxMsgs: 3},
			"foo.nolim": {MaxMsgs: -1},
		}
	})
	sc := connect(t, url, "c")
	for ch, want := range map[string]int{"foo.bar": 3, "foo.x": 3, "foo.a.b": 5, "other": 2, "foo.nolim": 10} {
		publishN(t, sc, ch, 10)
		if cz, _ := s.Channel(ch, false); cz.Msgs != want {
			t.Errorf("%s: %d msgs, want %d", ch, cz.Msgs, want)
		}
	}
	if _, err := sc.Subscribe("foo.bar", func(*stan.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo.bar", func(*stan.Msg) {}); err == nil || err.Error() != "too many subscriptions per channel" {
		t.Fatalf("inherited max subs: %v", err)
	}
}

// Inactivity: a new message resets the timer; the last active sub leaving
// restarts it in full; logs created/deleted (SPEC §7.5).
func TestSpec7InactivityTimerRules(t *testing.T) {
	var buf testenv.SyncBuffer
	s, url := startMemLogged(t, &buf, func(l *store.Limits) { l.MaxInactivity = 600 * time.Millisecond })
	sc := connect(t, url, "c")
	publishN(t, sc, "foo", 1)
	time.Sleep(400 * time.Millisecond)
	publishN(t, sc, "foo", 1)
	time.Sleep(400 * time.Millisecond)
	if _, ok := s.Channel("foo", false); !ok {
		t.Fatal("deleted although a message came 400ms ago")
	}
	sub, err := sc.Subscribe("foo", func(*stan.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(900 * time.Millisecond)
	if _, ok := s.Channel("foo", false); !ok {
		t.Fatal("deleted with an active subscription")
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(350 * time.Millisecond)
	if _, ok := s.Channel("foo", false); !ok {
		t.Fatal("deleted too soon after the last sub left")
	}
	waitFor(t, 3*time.Second, "deletion", func() bool { _, ok := s.Channel("foo", false); return !ok })
	for _, w := range []string{`Channel "foo" has been created`, `Channel "foo" has been deleted`} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("missing %q", w)
		}
	}
}

// Startup log order on FILE (SPEC §7.4).
func TestSpec7RecoveryLogOrder(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	var buf testenv.SyncBuffer
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: &buf})
	cfg.StoreLocation = dir
	fsrv := startFileServer(t, dir, cfg)
	sc := connect(t, url, "c")
	publishN(t, sc, "a", 1)
	publishN(t, sc, "b", 1)
	_ = sc.Close()
	first := buf.String()
	fsrv.restart()
	second := strings.TrimPrefix(buf.String(), first)
	check := func(out string, lines ...string) {
		t.Helper()
		pos := 0
		for _, l := range lines {
			i := strings.Index(out[pos:], l)
			if i < 0 {
				t.Fatalf("%q missing or out of order in:\n%s", l, out)
			}
			pos += i + len(l)
		}
	}
	check(first, "Recovering the state...", "No recovered state", "Message store is FILE", "Store location: "+dir,
		"---------- Store Limits ----------", "Streaming Server is ready")
	check(second, "Recovering the state...", "Recovered 2 channel(s)", "Message store is FILE", "Store location: "+dir,
		"---------- Store Limits ----------", "Streaming Server is ready")
}

// A subscription arriving while an inactive channel is being deleted gets
// `stan: channel is being deleted` (SPEC §7.5, §6), not a store error and
// not a fresh channel created beside the one being removed. The deletion
// is made long by many slice files; the test subscribes as soon as the
// file store has renamed the channel's directory aside.
func TestSpec7SubscribeDuringDeletion(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fcfg := filestore.DefaultConfig()
	fcfg.DoSync = false
	fcfg.SliceMaxMsgs = 1
	fcfg.Limits.MaxInactivity = 300 * time.Millisecond
	st, err := filestore.Open(dir, fcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := activate(t, cfg, st)
	defer s.Close()
	sc := connect(t, url, "c")
	const n = 2000
	done := make(chan error, n)
	for i := 0; i < n; i++ {
		if _, err := sc.PublishAsync("foo", []byte("x"), func(_ string, err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("publish acks missing")
		}
	}
	chDir := dir + "/channels"
	deadline := time.Now().Add(5 * time.Second)
	for {
		ents, _ := os.ReadDir(chDir)
		aside := false
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".del.") {
				aside = true
			}
		}
		if aside {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("channel never deleted")
		}
	}
	_, err = sc.Subscribe("foo", func(*stan.Msg) {})
	if err == nil || err.Error() != "stan: channel is being deleted" {
		t.Fatalf("subscribe during deletion: %v", err)
	}
	// Once the deletion is over, the name makes a new channel.
	waitFor(t, 30*time.Second, "deletion", func() bool {
		_, err := sc.Subscribe("foo", func(*stan.Msg) {})
		if err != nil && err.Error() != "stan: channel is being deleted" {
			t.Fatalf("subscribe after deletion: %v", err)
		}
		return err == nil
	})
	if cz, _ := s.Channel("foo", false); cz.LastSeq != 0 {
		t.Fatalf("recreated channel: %+v", cz)
	}
}

// Global limits of 0 are unlimited (SPEC §7.2).
func TestSpec7ZeroGlobalLimitsUnlimited(t *testing.T) {
	s, url := startWithLimits(t, func(l *store.Limits) { *l = store.Limits{} })
	sc := connect(t, url, "c")
	for i := 0; i < 3; i++ {
		ch := "c" + string(rune('a'+i))
		publishN(t, sc, ch, 5)
		for j := 0; j < 3; j++ {
			if _, err := sc.Subscribe(ch, func(*stan.Msg) {}); err != nil {
				t.Fatal(err)
			}
		}
		if cz, _ := s.Channel(ch, false); cz.Msgs != 5 {
			t.Fatalf("%s: %+v", ch, cz)
		}
	}
}

// A copy of the datastore taken right after a response holds what the
// response promised (SPEC §7.3): an acked message, a resumed durable queue
// shadow, the removal of an unsubscribed durable queue group.
func TestSpec7DurableAfterResponse(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fsrv := startFileServer(t, dir, cfg)
	sc := connect(t, url, "c", stan.Pings(1, 30))
	noop := func(*stan.Msg) {}
	shadow, err := sc.QueueSubscribe("foo", "g", noop, stan.DurableName("dq"))
	if err != nil {
		t.Fatal(err)
	}
	gone, err := sc.QueueSubscribe("foo", "h", noop, stan.DurableName("dq"))
	if err != nil {
		t.Fatal(err)
	}
	if err := shadow.Close(); err != nil {
		t.Fatal(err)
	}
	fsrv.restart() // graceful: the shadow is on disk
	if _, err := sc.QueueSubscribe("foo", "g", noop, stan.DurableName("dq")); err != nil {
		t.Fatal(err)
	}
	if err := gone.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 1)
	killed := copyDir(t, dir)
	fsrv.stop()
	fsrv.dir = killed
	fsrv.restart()
	cz, _ := fsrv.s.Channel("foo", true)
	if cz.LastSeq != 1 {
		t.Fatalf("acked message lost: %+v", cz)
	}
	if len(cz.Subscriptions) != 1 || cz.Subscriptions[0].QueueName != "dq:g" || cz.Subscriptions[0].IsOffline {
		t.Fatalf("recovered subscriptions: %+v", cz.Subscriptions)
	}
}

// openFileLimits opens dir with the given limits.
func openFileLimits(t *testing.T, dir string, mutate func(*store.Limits)) *filestore.Store {
	t.Helper()
	fcfg := filestore.DefaultConfig()
	fcfg.DoSync = false
	mutate(&fcfg.Limits)
	st, err := filestore.Open(dir, fcfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Limits apply to recovered messages: ones older than max age expire, and
// a lowered max msgs drops the oldest (SPEC §7.2, §7.4).
func TestSpec7LimitsOnRecoveredFile(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	st := openFileLimits(t, dir, func(*store.Limits) {})
	s := activate(t, cfg, st)
	sc := connect(t, url, "c")
	publishN(t, sc, "old", 2)
	publishN(t, sc, "many", 5)
	_ = sc.Close()
	_ = s.Close()
	_ = st.Close()
	time.Sleep(600 * time.Millisecond)
	st = openFileLimits(t, dir, func(l *store.Limits) {
		l.PerChannel = map[string]*store.ChannelLimits{
			"old":  {MaxAge: 500 * time.Millisecond},
			"many": {MaxMsgs: 2},
		}
	})
	defer st.Close()
	s = activate(t, cfg, st)
	defer s.Close()
	if cz, _ := s.Channel("many", false); cz.Msgs != 2 || cz.FirstSeq != 4 || cz.LastSeq != 5 {
		t.Fatalf("many: %+v", cz)
	}
	waitFor(t, 3*time.Second, "old expired", func() bool {
		cz, _ := s.Channel("old", false)
		return cz.Msgs == 0
	})
	sc = connect(t, url, "c2")
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("old", h, stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	noMsg(t, ch, 200*time.Millisecond)
}

// An inactivity deletion removes the channel's offline durables from the
// FILE store: they do not come back on restart (SPEC §7.5).
func TestSpec7InactivityDeletesOfflineDurablesFile(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	lim := func(l *store.Limits) { l.MaxInactivity = 300 * time.Millisecond }
	st := openFileLimits(t, dir, lim)
	s := activate(t, cfg, st)
	sc := connect(t, url, "c")
	publishN(t, sc, "foo", 3)
	d, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.DurableName("d"), stan.DeliverAllAvailable())
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	waitFor(t, 3*time.Second, "deletion", func() bool { return len(s.ChannelNames()) == 0 })
	_ = s.Close()
	_ = st.Close()
	st = openFileLimits(t, dir, func(*store.Limits) {})
	defer st.Close()
	s = activate(t, cfg, st)
	defer s.Close()
	if names := s.ChannelNames(); len(names) != 0 {
		t.Fatalf("recovered channels: %v", names)
	}
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h, stan.DurableName("d")); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 1)
	if m := recv(t, ch, 2*time.Second); m.Sequence != 1 {
		t.Fatalf("new channel's durable got seq %d", m.Sequence)
	}
}

// A connection close response means its durables are offline and its
// other subscriptions gone on disk (SPEC §7.3).
func TestSpec7ConnCloseDurableAfterResponse(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fsrv := startFileServer(t, dir, cfg)
	sc, err := stan.Connect(clusterID, "c", stan.NatsURL(url))
	if err != nil {
		t.Fatal(err)
	}
	noop := func(*stan.Msg) {}
	publishN(t, sc, "foo", 1)
	if _, err := sc.Subscribe("foo", noop, stan.DurableName("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.QueueSubscribe("foo", "g", noop, stan.DurableName("dq")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo", noop); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.QueueSubscribe("foo", "q", noop); err != nil {
		t.Fatal(err)
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	killed := copyDir(t, dir)
	fsrv.stop()
	fsrv.dir = killed
	fsrv.restart()
	cz, _ := fsrv.s.Channel("foo", true)
	got := map[string]bool{}
	for _, sz := range cz.Subscriptions {
		got[sz.DurableName+"/"+sz.QueueName] = sz.IsOffline
	}
	if len(got) != 2 || !got["d/"] || !got["/dq:g"] {
		t.Fatalf("recovered subscriptions (name → offline): %v", got)
	}
}

// The memory store counts a message's marshalled MsgProto size against
// max bytes (SPEC §7.2).
func TestSpec7MemMaxBytesIsMsgProtoSize(t *testing.T) {
	s, url := startWithLimits(t, func(*store.Limits) {})
	sc := connect(t, url, "c")
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 3)
	var sizes []int
	total := 0
	for i := 0; i < 3; i++ {
		m := recv(t, ch, 2*time.Second)
		sizes = append(sizes, m.MsgProto.Size())
		total += m.MsgProto.Size()
	}
	if cz, _ := s.Channel("foo", false); cz.Bytes != uint64(total) {
		t.Fatalf("bytes %d, want %d (%v)", cz.Bytes, total, sizes)
	}
}

// A channel deleted for inactivity frees its max channels slot.
func TestSpec7InactivityFreesChannelSlot(t *testing.T) {
	s, url := startWithLimits(t, func(l *store.Limits) {
		l.MaxChannels = 1
		l.MaxInactivity = 200 * time.Millisecond
	})
	sc := connect(t, url, "c")
	publishN(t, sc, "a", 1)
	if err := sc.Publish("b", nil); err == nil || err.Error() != "too many channels" {
		t.Fatalf("second channel: %v", err)
	}
	waitFor(t, 3*time.Second, "deletion", func() bool { return len(s.ChannelNames()) == 0 })
	publishN(t, sc, "b", 1)
}

// A durable queue group shadow does not keep a channel alive (SPEC §7.5).
func TestSpec7InactivityIgnoresShadow(t *testing.T) {
	s, url := startWithLimits(t, func(l *store.Limits) { l.MaxInactivity = 200 * time.Millisecond })
	sc := connect(t, url, "c")
	publishN(t, sc, "foo", 2)
	q, err := sc.QueueSubscribe("foo", "g", func(*stan.Msg) {}, stan.DurableName("dq"), stan.DeliverAllAvailable())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if len(s.ChannelNames()) != 1 {
		t.Fatal("deleted with an active queue member")
	}
	_ = q.Close()
	waitFor(t, 3*time.Second, "deletion", func() bool { return len(s.ChannelNames()) == 0 })
	ch, h := msgChan(10)
	if _, err := sc.QueueSubscribe("foo", "g", h, stan.DurableName("dq")); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 1)
	if m := recv(t, ch, 2*time.Second); m.Sequence != 1 {
		t.Fatalf("seq %d", m.Sequence)
	}
}
