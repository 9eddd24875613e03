package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/filestore"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/server/servertest"
)

func openFileStore(t *testing.T, dir string) *filestore.Store {
	t.Helper()
	cfg := filestore.DefaultConfig()
	cfg.DoSync = false
	st, err := filestore.Open(dir, cfg)
	if err != nil {
		t.Fatalf("open filestore: %v", err)
	}
	return st
}

// fileEnv starts a NATS server and returns an empty datastore directory,
// the NATS URL and a server configuration for clusterID on that NATS.
func fileEnv(t *testing.T) (dir, url string, cfg server.Config) {
	t.Helper()
	dir = t.TempDir()
	url = servertest.StartNATS(t)
	cfg = servertest.Config(t)
	cfg.ClusterID = clusterID
	cfg.NATSURL = url
	return dir, url, cfg
}

// activate starts a server on st without registering cleanup of st.
func activate(t *testing.T, cfg server.Config, st *filestore.Store) *server.Server {
	t.Helper()
	s, err := server.New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Activate(ctx); err != nil {
		t.Fatalf("activate: %v", err)
	}
	return s
}

// A failover in one process: the active deactivates and closes its store,
// a second server (FT) recovers the same datastore. The client keeps its
// session: pings, publishes, pending redelivery and new deliveries.
func TestFailoverRecovery(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	cfg.FT = true
	cfg.ActivationSpread = 300 * time.Millisecond

	st1 := openFileStore(t, dir)
	s1 := activate(t, cfg, st1)
	lost := make(chan error, 1)
	sc := connect(t, url, "c", stan.Pings(1, 5), stan.SetConnectionLostHandler(func(_ stan.Conn, err error) { lost <- err }))
	ch, h := msgChan(100)
	if _, err := sc.Subscribe("foo", h, stan.DurableName("dur"), stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	qch, qh := msgChan(100)
	if _, err := sc.QueueSubscribe("bar", "q", qh, stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 3)
	publishN(t, sc, "bar", 2)
	m1 := recv(t, ch, 2*time.Second)
	recv(t, ch, 2*time.Second)
	recv(t, ch, 2*time.Second)
	_ = m1.Ack()
	recv(t, qch, 2*time.Second)
	recv(t, qch, 2*time.Second)
	waitFor(t, 2*time.Second, "ack recorded", func() bool {
		cz, _ := s1.Channel("foo", true)
		return len(cz.Subscriptions) == 1 && cz.Subscriptions[0].PendingCount == 2
	})

	if err := s1.Deactivate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if z := s1.Serverz(); z.Clients != 0 || z.Channels != 0 {
		t.Fatalf("deactivated serverz: %+v", z)
	}
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s1.Close()
	// Let the ack deadlines pass while no server is active, and forget
	// anything the first server redelivered.
	time.Sleep(1100 * time.Millisecond)
	for len(ch) > 0 {
		<-ch
	}
	for len(qch) > 0 {
		<-qch
	}

	st2 := openFileStore(t, dir)
	defer st2.Close()
	s2 := activate(t, cfg, st2)
	defer s2.Close()
	// Pending messages come back redelivered, spread over the window.
	for _, want := range []uint64{2, 3} {
		m := recv(t, ch, 900*time.Millisecond)
		if m.Sequence != want || !m.Redelivered {
			t.Fatalf("after failover: seq=%d redelivered=%v want %d", m.Sequence, m.Redelivered, want)
		}
		_ = m.Ack()
	}
	for i := 0; i < 2; i++ {
		m := recv(t, qch, 900*time.Millisecond)
		if !m.Redelivered {
			t.Fatalf("queue after failover: seq=%d not redelivered", m.Sequence)
		}
		_ = m.Ack()
	}
	// The session continues: publish, delivery, pings.
	publishN(t, sc, "foo", 1)
	if m := recv(t, ch, 2*time.Second); m.Sequence != 4 || m.Redelivered {
		t.Fatalf("new message: %d %v", m.Sequence, m.Redelivered)
	}
	select {
	case err := <-lost:
		t.Fatalf("connection lost: %v", err)
	case <-time.After(1500 * time.Millisecond):
	}
	if ids := s2.ClientIDs(); len(ids) != 1 || ids[0] != "c" {
		t.Fatalf("clients = %v", ids)
	}
}

func TestClusterIDMismatch(t *testing.T) {
	dir, _, cfg := fileEnv(t)
	st := openFileStore(t, dir)
	s := activate(t, cfg, st)
	_ = s.Close()
	_ = st.Close()

	st2 := openFileStore(t, dir)
	defer st2.Close()
	cfg.ClusterID = "other"
	s2, err := server.New(cfg, st2)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	err = s2.Activate(context.Background())
	if err == nil || err.Error() != `cluster ID "other" does not match recovered value of "test-cluster"` {
		t.Fatalf("activate: %v", err)
	}
}

func TestRecoveryDropsVanishedClients(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	st := openFileStore(t, dir)
	s := activate(t, cfg, st)
	sc, err := stan.Connect(clusterID, "gone", stan.NatsURL(url))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.DurableName("d")); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 2)
	_ = sc.Close() // durable goes offline, plain sub deleted
	_ = s.Close()
	_ = st.Close()

	st2 := openFileStore(t, dir)
	defer st2.Close()
	s2 := activate(t, cfg, st2)
	defer s2.Close()
	cz, ok := s2.Channel("foo", true)
	if !ok || cz.LastSeq != 2 || len(cz.Subscriptions) != 1 || !cz.Subscriptions[0].IsOffline {
		t.Fatalf("recovered channel: %+v", cz)
	}
	sc2 := connect(t, url, "gone")
	publishN(t, sc2, "foo", 1)
	if cz, _ := s2.Channel("foo", false); cz.LastSeq != 3 {
		t.Fatalf("sequence after recovery: %d", cz.LastSeq)
	}
}

// After an FT activation, expired recovered messages are redelivered in
// order, spread over the activation window, and before new messages.
func TestActivationSpreadsRedelivery(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	cfg.FT = true
	cfg.ActivationSpread = time.Second

	st1 := openFileStore(t, dir)
	s1 := activate(t, cfg, st1)
	sc := connect(t, url, "c")
	ch, h := msgChan(1000)
	if _, err := sc.Subscribe("foo", h, stan.DurableName("dur"), stan.SetManualAckMode(),
		stan.AckWait(time.Second), stan.MaxInflight(1000)); err != nil {
		t.Fatal(err)
	}
	const n = 100
	publishN(t, sc, "foo", n)
	for i := 0; i < n; i++ {
		recv(t, ch, 2*time.Second)
	}
	_ = s1.Deactivate(context.Background())
	_ = st1.Close()
	_ = s1.Close()
	time.Sleep(1100 * time.Millisecond) // deadlines pass
	for len(ch) > 0 {
		<-ch
	}

	st2 := openFileStore(t, dir)
	defer st2.Close()
	start := time.Now()
	s2 := activate(t, cfg, st2)
	defer s2.Close()
	publishN(t, sc, "foo", 1) // new message: after the recovered ones
	var firstAt, lastAt time.Duration
	for want := uint64(1); want <= n+1; want++ {
		m := recv(t, ch, 3*time.Second)
		if m.Sequence != want {
			t.Fatalf("got %d want %d", m.Sequence, want)
		}
		if want <= n && !m.Redelivered {
			t.Fatalf("seq %d not redelivered", want)
		}
		_ = m.Ack()
		switch want {
		case 1:
			firstAt = time.Since(start)
		case n:
			lastAt = time.Since(start)
		}
	}
	if lastAt-firstAt < 600*time.Millisecond || lastAt > 2*time.Second {
		t.Fatalf("redelivery not spread: first %v last %v", firstAt, lastAt)
	}
}

// A recovered channel without subscriptions is deleted once inactive.
func TestRecoveredChannelInactivity(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	open := func() *filestore.Store {
		fcfg := filestore.DefaultConfig()
		fcfg.DoSync = false
		fcfg.Limits.MaxInactivity = 300 * time.Millisecond
		st, err := filestore.Open(dir, fcfg)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	s := activate(t, cfg, st)
	sc := connect(t, url, "c")
	publishN(t, sc, "foo", 1)
	_ = sc.Close()
	_ = s.Close()
	_ = st.Close()

	st2 := open()
	defer st2.Close()
	s2 := activate(t, cfg, st2)
	defer s2.Close()
	if _, ok := s2.Channel("foo", false); !ok {
		t.Fatal("channel not recovered")
	}
	waitFor(t, 3*time.Second, "recovered channel deleted", func() bool {
		return len(s2.ChannelNames()) == 0
	})
}

// Recovered expired messages acked by the client before their spread
// redelivery slot end the hold on new messages (the ack timer may have
// nothing left to fire for).
func TestRecoveredPendingAckedDuringSpread(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	cfg.FT = true
	cfg.ActivationSpread = 3 * time.Second

	st1 := openFileStore(t, dir)
	s1 := activate(t, cfg, st1)
	sc := connect(t, url, "c")
	ch, h := msgChan(1000)
	if _, err := sc.Subscribe("foo", h, stan.DurableName("dur"), stan.SetManualAckMode(),
		stan.AckWait(time.Second), stan.MaxInflight(50)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 60)
	var held []*stan.Msg
	for i := 0; i < 50; i++ {
		held = append(held, recv(t, ch, 2*time.Second))
	}
	_ = s1.Deactivate(context.Background())
	_ = st1.Close()
	_ = s1.Close()
	time.Sleep(1100 * time.Millisecond)
	for len(ch) > 0 {
		<-ch
	}
	st2 := openFileStore(t, dir)
	defer st2.Close()
	s2 := activate(t, cfg, st2)
	defer s2.Close()
	for _, m := range held {
		_ = m.Ack()
	}
	// 51..60 follow well before the 3 s spread is over.
	deadline := time.After(1500 * time.Millisecond)
	for want := uint64(51); want <= 60; {
		select {
		case m := <-ch:
			if m.Redelivered {
				_ = m.Ack()
				continue // a recovered message whose slot came first
			}
			if m.Sequence != want {
				t.Fatalf("got %d want %d", m.Sequence, want)
			}
			_ = m.Ack()
			want++
		case <-deadline:
			t.Fatalf("new messages held: got up to %d", want-1)
		}
	}
}
