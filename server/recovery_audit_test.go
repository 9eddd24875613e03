package server_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/filestore"
	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/server"
)

// fileServer is a server on a file store that a test restarts on the same
// datastore (a standalone restart, SPEC §7.4).
type fileServer struct {
	t   *testing.T
	dir string
	cfg server.Config
	st  *filestore.Store
	s   *server.Server
}

func startFileServer(t *testing.T, dir string, cfg server.Config) *fileServer {
	t.Helper()
	fs := &fileServer{t: t, dir: dir, cfg: cfg}
	fs.st = openFileStore(t, dir)
	fs.s = activate(t, cfg, fs.st)
	t.Cleanup(fs.stop)
	return fs
}

func (fs *fileServer) stop() {
	if fs.s != nil {
		_ = fs.s.Close()
		fs.s = nil
	}
	if fs.st != nil {
		_ = fs.st.Close()
		fs.st = nil
	}
}

func (fs *fileServer) restart() {
	fs.t.Helper()
	fs.stop()
	fs.st = openFileStore(fs.t, fs.dir)
	fs.s = activate(fs.t, fs.cfg, fs.st)
}

// A non-durable subscription of a client that is still connected survives
// a standalone restart: its expired pending messages come back at once,
// redelivered, before the new ones, and what it acked is not resent.
func TestRestartPlainSubPending(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fs := startFileServer(t, dir, cfg)
	sc := connect(t, url, "c", stan.Pings(1, 30))
	ch, h := msgChan(100)
	if _, err := sc.Subscribe("foo", h, stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 3)
	m1 := recv(t, ch, 2*time.Second)
	recv(t, ch, 2*time.Second)
	recv(t, ch, 2*time.Second)
	_ = m1.Ack()
	waitFor(t, 2*time.Second, "ack", func() bool {
		cz, _ := fs.s.Channel("foo", true)
		return len(cz.Subscriptions) == 1 && cz.Subscriptions[0].PendingCount == 2
	})
	fs.stop()
	time.Sleep(1100 * time.Millisecond)
	for len(ch) > 0 {
		<-ch
	}
	fs.restart()
	for _, want := range []uint64{2, 3} {
		m := recv(t, ch, time.Second)
		if m.Sequence != want || !m.Redelivered {
			t.Fatalf("after restart: seq=%d redelivered=%v want %d redelivered", m.Sequence, m.Redelivered, want)
		}
		_ = m.Ack()
	}
	publishN(t, sc, "foo", 1)
	if m := recv(t, ch, 2*time.Second); m.Sequence != 4 || m.Redelivered {
		t.Fatalf("new message: %d %v", m.Sequence, m.Redelivered)
	}
	noMsg(t, ch, 300*time.Millisecond)
}

// A subscription that acknowledged everything it got resumes after the
// restart at lastSent+1 (lastSent = max(stored, highest sent recorded)),
// for a plain, a durable and a queue subscription.
func TestRestartLastSentFromSentRecords(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fs := startFileServer(t, dir, cfg)
	sc := connect(t, url, "c", stan.Pings(1, 30))
	pch, ph := msgChan(100)
	dch, dh := msgChan(100)
	qch, qh := msgChan(100)
	if _, err := sc.Subscribe("foo", ph); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo", dh, stan.DurableName("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.QueueSubscribe("foo", "q", qh, stan.DurableName("dq")); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 5)
	for _, c := range []chan *stan.Msg{pch, dch, qch} {
		for i := 0; i < 5; i++ {
			recv(t, c, 2*time.Second)
		}
	}
	waitNoPending(t, fs.s, "foo", 3)
	fs.restart()
	publishN(t, sc, "foo", 1)
	for name, c := range map[string]chan *stan.Msg{"plain": pch, "durable": dch, "queue": qch} {
		m := recv(t, c, 2*time.Second)
		if m.Sequence != 6 || m.Redelivered {
			t.Fatalf("%s after restart: seq=%d redelivered=%v, want 6", name, m.Sequence, m.Redelivered)
		}
	}
	noMsg(t, pch, 200*time.Millisecond)
	noMsg(t, dch, 10*time.Millisecond)
	noMsg(t, qch, 10*time.Millisecond)
}

// A durable queue group whose members all closed is a shadow: after a
// restart a new member adopts it, gets the unacknowledged messages
// redelivered, then the new ones from the group's lastSent+1.
func TestRestartDurableQueueShadow(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fs := startFileServer(t, dir, cfg)
	sc := connect(t, url, "c", stan.Pings(1, 30))
	ch, h := msgChan(100)
	if _, err := sc.QueueSubscribe("foo", "q", h, stan.DurableName("dur"), stan.SetManualAckMode(), stan.AckWait(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 4)
	for i := 0; i < 4; i++ {
		m := recv(t, ch, 2*time.Second)
		if m.Sequence <= 2 {
			_ = m.Ack()
		}
	}
	waitFor(t, 2*time.Second, "acks", func() bool {
		cz, _ := fs.s.Channel("foo", true)
		return len(cz.Subscriptions) == 1 && cz.Subscriptions[0].PendingCount == 2
	})
	_ = sc.Close()
	publishN(t, connect(t, url, "p"), "foo", 1) // seq 5 while parked
	fs.restart()
	cz, ok := fs.s.Channel("foo", true)
	if !ok || len(cz.Subscriptions) != 1 || !cz.Subscriptions[0].IsOffline {
		t.Fatalf("recovered channel: %+v", cz)
	}
	sc2 := connect(t, url, "c2")
	ch2, h2 := msgChan(100)
	if _, err := sc2.QueueSubscribe("foo", "q", h2, stan.DurableName("dur"), stan.SetManualAckMode()); err != nil {
		t.Fatal(err)
	}
	// The adopted shadow's messages, then the new one.
	expectDeliveries(t, ch2, true, delivery{3, true}, delivery{4, true}, delivery{5, false})
	noMsg(t, ch2, 300*time.Millisecond)
}

// A client that vanished without closing while no server ran is recreated
// at recovery with its heartbeat timer: it is removed after the heartbeat
// failures, and its offline durable stays.
func TestRestartVanishedClientTimesOut(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fs := startFileServer(t, dir, cfg)
	nc := natsConn(t, url)
	sc, err := stan.Connect(clusterID, "ghost", stan.NatsConn(nc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.DurableName("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}); err != nil {
		t.Fatal(err)
	}
	fs.stop()
	nc.Close() // the client dies while no server runs
	fs.restart()
	if ids := fs.s.ClientIDs(); len(ids) != 1 || ids[0] != "ghost" {
		t.Fatalf("recovered clients: %v", ids)
	}
	// The client leaves the registry before its subscriptions are closed:
	// wait for both.
	waitFor(t, 5*time.Second, "ghost client and its plain subscription removed", func() bool {
		cz, _ := fs.s.Channel("foo", true)
		return len(fs.s.ClientIDs()) == 0 && len(cz.Subscriptions) == 1
	})
	cz, _ := fs.s.Channel("foo", true)
	if len(cz.Subscriptions) != 1 || !cz.Subscriptions[0].IsOffline || cz.Subscriptions[0].DurableName != "d" {
		t.Fatalf("subscriptions: %+v", cz.Subscriptions)
	}
}

// Durable queue members whose clients are gone are dropped at recovery;
// when none of the group is left, the group's state is kept as a shadow
// with every unacknowledged message of its former members, which a new
// member gets redelivered.
func TestRestartGhostDurableQueueMembers(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fs := startFileServer(t, dir, cfg)
	var chans []chan *stan.Msg
	for _, id := range []string{"a", "b"} {
		sc := connect(t, url, id, stan.Pings(1, 30))
		ch, h := msgChan(100)
		if _, err := sc.QueueSubscribe("foo", "q", h, stan.DurableName("dur"), stan.SetManualAckMode(), stan.AckWait(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	publishN(t, connect(t, url, "p"), "foo", 4)
	got := 0
	for got < 4 {
		select {
		case <-chans[0]:
			got++
		case <-chans[1]:
			got++
		case <-time.After(2 * time.Second):
			t.Fatalf("got %d of 4", got)
		}
	}
	waitFor(t, 2*time.Second, "pending recorded", func() bool {
		cz, _ := fs.s.Channel("foo", true)
		n := 0
		for _, sz := range cz.Subscriptions {
			n += sz.PendingCount
		}
		return n == 4
	})
	fs.stop()
	// Both clients vanish from the store while their subscriptions stay.
	st := openFileStore(t, dir)
	if _, err := st.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if err := st.DeleteClient(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	fs.restart()
	cz, _ := fs.s.Channel("foo", true)
	if len(cz.Subscriptions) != 1 || !cz.Subscriptions[0].IsOffline {
		t.Fatalf("recovered subscriptions: %+v", cz.Subscriptions)
	}
	sc := connect(t, url, "c")
	ch, h := msgChan(100)
	if _, err := sc.QueueSubscribe("foo", "q", h, stan.DurableName("dur"), stan.SetManualAckMode()); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for len(seen) < 4 {
		m := recv(t, ch, 2*time.Second)
		if !m.Redelivered {
			t.Fatalf("seq %d not redelivered", m.Sequence)
		}
		seen[m.Sequence] = true
		_ = m.Ack()
	}
	noMsg(t, ch, 300*time.Millisecond)
}

// After an activation, a queue group's new messages wait until the
// recovered pending messages of its members were redelivered ("new on
// hold", SPEC §7.4), also when they go out spread over the activation
// window and another member has nothing pending.
func TestRecoveredQueueGroupHoldsNew(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	cfg.FT = true
	cfg.ActivationSpread = time.Second
	fs := startFileServer(t, dir, cfg)
	sc := connect(t, url, "c", stan.Pings(1, 30))
	// Both members of one connection feed one channel: arrival order is
	// the server's send order.
	all, h := msgChan(100)
	if _, err := sc.QueueSubscribe("foo", "q", h, stan.SetManualAckMode(), stan.AckWait(time.Second), stan.MaxInflight(5)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 5) // all to the only member, not acked
	for i := 0; i < 5; i++ {
		recv(t, all, 2*time.Second)
	}
	if _, err := sc.QueueSubscribe("foo", "q", h, stan.SetManualAckMode(), stan.AckWait(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	fs.stop()
	time.Sleep(1100 * time.Millisecond) // deadlines pass
	for len(all) > 0 {
		<-all
	}
	fs.restart()
	publishN(t, sc, "foo", 1)
	// The last recovered message and the new one are sent back to back to
	// two subscriptions, which the client dispatches independently: only
	// the order up to them is checked.
	newAt := -1
	for i := 0; i < 6; i++ {
		m := recv(t, all, 3*time.Second)
		_ = m.Ack()
		switch {
		case m.Sequence == 6 && !m.Redelivered:
			newAt = i
		case m.Sequence > 5 || !m.Redelivered:
			t.Fatalf("message %d: seq=%d redelivered=%v", i, m.Sequence, m.Redelivered)
		}
	}
	if newAt < 4 {
		t.Fatalf("new message received at position %d, before the recovered ones", newAt)
	}
}

// copyDir copies a datastore as it is on disk now, as a kill -9 would
// leave it (what the server wrote; buffered records are not there).
func copyDir(t *testing.T, src string) string {
	dst := t.TempDir()
	testenv.CopyDir(t, src, dst)
	return dst
}

// What a response promised is on disk when the response is sent (SPEC
// §7.3): a server killed right after the responses recovers the client,
// the new subscription, the resumed durable, and not the closed or
// unsubscribed ones.
func TestKilledAfterResponsesRecovers(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fsrv := startFileServer(t, dir, cfg)
	sc := connect(t, url, "c", stan.Pings(1, 30))
	noop := func(*stan.Msg) {}
	publishN(t, sc, "foo", 1)
	resumed, err := sc.Subscribe("foo", noop, stan.DurableName("resumed"))
	if err != nil {
		t.Fatal(err)
	}
	closed, err := sc.Subscribe("foo", noop, stan.DurableName("closed"))
	if err != nil {
		t.Fatal(err)
	}
	gone, err := sc.Subscribe("foo", noop, stan.DurableName("gone"))
	if err != nil {
		t.Fatal(err)
	}
	if err := resumed.Close(); err != nil {
		t.Fatal(err)
	}
	fsrv.restart() // graceful: "resumed" is offline on disk
	if _, err := sc.Subscribe("foo", noop, stan.DurableName("resumed")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo", noop, stan.DurableName("fresh")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.QueueSubscribe("foo", "q", noop, stan.DurableName("dq")); err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gone.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	sc2, err := stan.Connect(clusterID, "c2", stan.NatsURL(url))
	if err != nil {
		t.Fatal(err)
	}
	defer sc2.Close()
	killed := copyDir(t, dir)
	fsrv.stop()
	fsrv.dir = killed
	fsrv.restart()
	ids := fsrv.s.ClientIDs()
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"c", "c2"}) {
		t.Fatalf("recovered clients: %v", ids)
	}
	cz, _ := fsrv.s.Channel("foo", true)
	got := map[string]bool{}
	for _, sz := range cz.Subscriptions {
		got[sz.DurableName+"/"+sz.QueueName] = sz.IsOffline
	}
	want := map[string]bool{"resumed/": false, "fresh/": false, "closed/": true, "/dq:q": false}
	if !maps.Equal(got, want) {
		t.Fatalf("recovered subscriptions (name → offline): %v, want %v", got, want)
	}
}

// The recovered message log answers "first sequence with timestamp >= t"
// (SPEC §7.1) for a start time after a restart, and the sequence goes on.
func TestRestartStartAtTime(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fsrv := startFileServer(t, dir, cfg)
	sc := connect(t, url, "c", stan.Pings(1, 30))
	publishN(t, sc, "foo", 3)
	time.Sleep(400 * time.Millisecond)
	// Margins on both sides: the start time reaches the server as a delta
	// from the client's clock at subscription time.
	mid := time.Now().Add(-200 * time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	publishN(t, sc, "foo", 2)
	fsrv.restart()
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h, stan.StartAtTime(mid)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint64{4, 5} {
		if m := recv(t, ch, 2*time.Second); m.Sequence != want {
			t.Fatalf("start at time: got %d want %d", m.Sequence, want)
		}
	}
	ch2, h2 := msgChan(10)
	if _, err := sc.Subscribe("foo", h2, stan.StartAtTime(time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 1)
	if m := recv(t, ch2, 2*time.Second); m.Sequence != 6 {
		t.Fatalf("start after every message: got %d want 6", m.Sequence)
	}
	if m := recv(t, ch, 2*time.Second); m.Sequence != 6 {
		t.Fatalf("got %d want 6", m.Sequence)
	}
}

// A member that stood down and is promoted again recovers with the same
// Server on a reopened store (FT re-activation, SPEC §7.4): clients,
// durables and pending messages are back, and delivery goes on.
func TestReactivateSameServer(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	cfg.FT = true
	cfg.ActivationSpread = 0
	st := openFileStore(t, dir)
	s := activate(t, cfg, st)
	defer s.Close()
	sc := connect(t, url, "c", stan.Pings(1, 30))
	ch, h := msgChan(100)
	if _, err := sc.Subscribe("foo", h, stan.DurableName("d"), stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 2)
	_ = recv(t, ch, 2*time.Second).Ack()
	recv(t, ch, 2*time.Second)
	waitFor(t, 2*time.Second, "ack", func() bool {
		cz, _ := s.Channel("foo", true)
		return len(cz.Subscriptions) == 1 && cz.Subscriptions[0].PendingCount == 1
	})
	for round := 0; round < 2; round++ {
		if err := s.Deactivate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond)
		for len(ch) > 0 {
			<-ch
		}
		st = openFileStore(t, dir)
		if err := s.SetStore(st); err != nil {
			t.Fatal(err)
		}
		if err := s.Activate(context.Background()); err != nil {
			t.Fatal(err)
		}
		m := recv(t, ch, 2*time.Second)
		if m.Sequence != 2 || !m.Redelivered {
			t.Fatalf("round %d: seq=%d redelivered=%v, want 2 redelivered", round, m.Sequence, m.Redelivered)
		}
	}
	if ids := s.ClientIDs(); len(ids) != 1 || ids[0] != "c" {
		t.Fatalf("clients: %v", ids)
	}
	publishN(t, sc, "foo", 1)
	for {
		m := recv(t, ch, 2*time.Second)
		_ = m.Ack()
		if !m.Redelivered {
			if m.Sequence != 3 {
				t.Fatalf("new message seq=%d want 3", m.Sequence)
			}
			break
		}
	}
	t.Cleanup(func() { _ = st.Close() })
}

// A subscription recovered stalled (MaxInFlight pending) gets its expired
// messages redelivered, and once they are acked the messages after its
// lastSent, as new ones (SPEC §7.4).
func TestRestartStalledSub(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fsrv := startFileServer(t, dir, cfg)
	sc := connect(t, url, "c", stan.Pings(1, 30))
	ch, h := msgChan(100)
	if _, err := sc.QueueSubscribe("foo", "q", h, stan.DurableName("d"), stan.SetManualAckMode(), stan.AckWait(time.Second), stan.MaxInflight(2)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 4)
	recv(t, ch, 2*time.Second)
	recv(t, ch, 2*time.Second)
	fsrv.stop()
	time.Sleep(1100 * time.Millisecond)
	for len(ch) > 0 {
		<-ch
	}
	fsrv.restart()
	expectDeliveries(t, ch, true, delivery{1, true}, delivery{2, true}, delivery{3, false}, delivery{4, false})
	noMsg(t, ch, 300*time.Millisecond)
}

// Recovered expired messages of a queue group go back to the member that
// had them, redelivered (SPEC §7.4).
func TestRestartQueueRedeliversToSameMember(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fsrv := startFileServer(t, dir, cfg)
	var chans []chan *stan.Msg
	for _, id := range []string{"a", "b"} {
		sc := connect(t, url, id, stan.Pings(1, 30))
		ch, h := msgChan(100)
		if _, err := sc.QueueSubscribe("foo", "q", h, stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	publishN(t, connect(t, url, "p"), "foo", 6)
	had := []map[uint64]bool{{}, {}}
	for n := 0; n < 6; {
		select {
		case m := <-chans[0]:
			had[0][m.Sequence] = true
			n++
		case m := <-chans[1]:
			had[1][m.Sequence] = true
			n++
		case <-time.After(2 * time.Second):
			t.Fatalf("got %d of 6", n)
		}
	}
	fsrv.stop()
	time.Sleep(1100 * time.Millisecond)
	for _, ch := range chans {
		for len(ch) > 0 {
			<-ch
		}
	}
	fsrv.restart()
	for i, ch := range chans {
		for range had[i] {
			m := recv(t, ch, 2*time.Second)
			if !had[i][m.Sequence] || !m.Redelivered {
				t.Fatalf("member %d: seq=%d redelivered=%v; it had %v", i, m.Sequence, m.Redelivered, had[i])
			}
			_ = m.Ack()
		}
	}
}

// Ack records may lag, but not past the next flush of the channel's
// subscriptions (SPEC §7.3, D9): after a later publish, acknowledged
// messages are not redelivered by a server killed then.
func TestKilledAfterAcksAndPublish(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	fsrv := startFileServer(t, dir, cfg)
	sc := connect(t, url, "c", stan.Pings(1, 30))
	ch, h := msgChan(100)
	if _, err := sc.Subscribe("foo", h, stan.DurableName("d"), stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 3)
	for i := 0; i < 3; i++ {
		_ = recv(t, ch, 2*time.Second).Ack()
	}
	waitFor(t, 2*time.Second, "acks", func() bool {
		cz, _ := fsrv.s.Channel("foo", true)
		return len(cz.Subscriptions) == 1 && cz.Subscriptions[0].PendingCount == 0
	})
	publishN(t, sc, "foo", 1)
	_ = recv(t, ch, 2*time.Second).Ack()
	killed := copyDir(t, dir)
	fsrv.stop()
	fsrv.dir = killed
	time.Sleep(1100 * time.Millisecond)
	for len(ch) > 0 {
		<-ch
	}
	fsrv.restart()
	// Only 4 may come back (its ack may not be on disk).
	select {
	case m := <-ch:
		if m.Sequence != 4 {
			t.Fatalf("acknowledged seq %d redelivered after the kill", m.Sequence)
		}
	case <-time.After(500 * time.Millisecond):
	}
	noMsg(t, ch, 300*time.Millisecond)
}
