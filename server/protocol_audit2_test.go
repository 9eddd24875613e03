package server_test

// Second protocol acceptance audit (SPEC §2-§5) with the real stan.go
// client and raw requests: behaviour that matched the SPEC and had no test.

import (
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// Start positions on an empty channel: every one starts at the first
// message published after the subscription (SPEC §4.3).
func TestAuditStartPositionsEmptyChannel(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	opts := map[string]stan.SubscriptionOption{
		"new":  stan.StartAt(pb.StartPosition_NewOnly),
		"last": stan.StartWithLastReceived(),
		"time": stan.StartAtTimeDelta(time.Hour),
		"fut":  stan.StartAtTime(time.Now().Add(time.Hour)),
		"seq5": stan.StartAtSequence(5),
		"seq0": stan.StartAtSequence(0),
		"all":  stan.DeliverAllAvailable(),
	}
	chans := map[string]chan *stan.Msg{}
	for name, o := range opts {
		ch, h := msgChan(10)
		chans[name] = ch
		if _, err := sc.Subscribe("e", h, o); err != nil {
			t.Fatal(err)
		}
	}
	publishN(t, sc, "e", 2)
	for name, ch := range chans {
		if m := recv(t, ch, 2*time.Second); m.Sequence != 1 {
			t.Fatalf("%s: first seq %d", name, m.Sequence)
		}
	}
}

// Start positions on a channel whose first messages were dropped by limits.
func TestAuditStartPositionsTrimmed(t *testing.T) {
	_, url := startWithLimits(t, func(l *store.Limits) { l.MaxMsgs = 3 })
	sc := connect(t, url, "c")
	publishN(t, sc, "t", 6) // first=4, last=6
	cases := []struct {
		name  string
		opt   stan.SubscriptionOption
		first uint64
	}{
		{"seq1", stan.StartAtSequence(1), 4},
		{"seq5", stan.StartAtSequence(5), 5},
		{"seq9", stan.StartAtSequence(9), 7},
		{"all", stan.DeliverAllAvailable(), 4},
		{"last", stan.StartWithLastReceived(), 6},
		{"time", stan.StartAtTimeDelta(time.Hour), 4},
	}
	for _, tc := range cases {
		ch, h := msgChan(10)
		sub, err := sc.Subscribe("t", h, tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if tc.first == 7 {
			noMsg(t, ch, 100*time.Millisecond)
		} else if m := recv(t, ch, 2*time.Second); m.Sequence != tc.first {
			t.Fatalf("%s: first %d want %d", tc.name, m.Sequence, tc.first)
		}
		_ = sub.Unsubscribe()
	}
}

// TimeDeltaStart between two messages starts at the first message at or
// after the requested time.
func TestAuditTimeDeltaBetween(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	publishN(t, sc, "td", 2)
	time.Sleep(300 * time.Millisecond)
	mid := time.Now()
	time.Sleep(300 * time.Millisecond)
	publishN(t, sc, "td", 2)
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("td", h, stan.StartAtTime(mid)); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch, 2*time.Second); m.Sequence != 3 {
		t.Fatalf("first %d", m.Sequence)
	}
}

// Several unacked messages are redelivered in order, each with
// RedeliveryCount 1, then 2.
func TestAuditRedeliveryOrder(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(100)
	if _, err := sc.Subscribe("r", h, stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "r", 3)
	for round := 0; round < 3; round++ {
		for want := uint64(1); want <= 3; want++ {
			m := recv(t, ch, 3*time.Second)
			if m.Sequence != want || m.Redelivered != (round > 0) || m.RedeliveryCount != uint32(round) {
				t.Fatalf("round %d: seq=%d redel=%v count=%d", round, m.Sequence, m.Redelivered, m.RedeliveryCount)
			}
		}
	}
}

// A durable resumed with a smaller MaxInflight gets all its pending at once
// and then no new message until acks bring pending below MaxInflight.
func TestAuditDurableResumeSmallerInflight(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(100)
	sub, err := sc.Subscribe("d", h, stan.DurableName("dur"), stan.SetManualAckMode(), stan.AckWait(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "d", 4)
	for i := 0; i < 4; i++ {
		recv(t, ch, 2*time.Second)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "d", 1)
	ch2, h2 := msgChan(100)
	if _, err := sc.Subscribe("d", h2, stan.DurableName("dur"), stan.SetManualAckMode(), stan.MaxInflight(2), stan.AckWait(30*time.Second), stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	var ms []*stan.Msg
	for i := 1; i <= 4; i++ {
		m := recv(t, ch2, 2*time.Second)
		if m.Sequence != uint64(i) || !m.Redelivered {
			t.Fatalf("resume %d: %d %v", i, m.Sequence, m.Redelivered)
		}
		ms = append(ms, m)
	}
	noMsg(t, ch2, 200*time.Millisecond)
	_ = ms[0].Ack()
	_ = ms[1].Ack()
	noMsg(t, ch2, 200*time.Millisecond)
	_ = ms[2].Ack()
	if m := recv(t, ch2, 2*time.Second); m.Sequence != 5 || m.Redelivered {
		t.Fatalf("new: %d %v", m.Sequence, m.Redelivered)
	}
}

// Durable names are per client ID: two clients may both have "d" online.
func TestAuditDurablePerClient(t *testing.T) {
	_, url := start(t, nil)
	a := connect(t, url, "a")
	b := connect(t, url, "b")
	if _, err := a.Subscribe("x", func(*stan.Msg) {}, stan.DurableName("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe("x", func(*stan.Msg) {}, stan.DurableName("d")); err != nil {
		t.Fatal(err)
	}
	// ':' is allowed in a plain durable name.
	if _, err := a.Subscribe("x", func(*stan.Msg) {}, stan.DurableName("d:e")); err != nil {
		t.Fatal(err)
	}
}

// Subscribing on a new channel beyond max channels fails with the store's text.
func TestAuditSubscribeTooManyChannels(t *testing.T) {
	_, url := startWithLimits(t, func(l *store.Limits) { l.MaxChannels = 1 })
	sc := connect(t, url, "c")
	if _, err := sc.Subscribe("one", func(*stan.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("two", func(*stan.Msg) {}); err == nil || err.Error() != "too many channels" {
		t.Fatalf("got %v", err)
	}
	if err := sc.Publish("two", nil); err == nil || err.Error() != "too many channels" {
		t.Fatalf("publish got %v", err)
	}
}

// A per-channel wildcard limit applies to matching channels only.
func TestAuditWildcardLimits(t *testing.T) {
	_, url := startWithLimits(t, func(l *store.Limits) {
		l.PerChannel = map[string]*store.ChannelLimits{"foo.>": {MaxSubscriptions: 1}}
	})
	sc := connect(t, url, "c")
	if _, err := sc.Subscribe("foo.a", func(*stan.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo.a", func(*stan.Msg) {}); err == nil || err.Error() != "too many subscriptions per channel" {
		t.Fatalf("got %v", err)
	}
	for i := 0; i < 3; i++ {
		if _, err := sc.Subscribe("bar", func(*stan.Msg) {}); err != nil {
			t.Fatal(err)
		}
	}
}

// Duplicate-ID probe: a second connect during the probe is rejected at once;
// the replacement waits about the probe timeout.
func TestAuditDuplicateProbeInProgress(t *testing.T) {
	_, url := start(t, func(c *serverConfig) { c.DuplicateProbeTimeout = 500 * time.Millisecond })
	nc := natsConn(t, url)
	req := pb.ConnectRequest{ClientID: "ghost", HeartbeatInbox: nats.NewInbox(), Protocol: 1, ConnID: []byte("g1")}
	b, _ := req.Marshal()
	if _, err := nc.Request("_STAN.discover."+clusterID, b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// Keep the ghost's HB inbox subscribed but silent: the probe times out.
	silent, _ := nc.SubscribeSync(req.HeartbeatInbox)
	defer silent.Unsubscribe()
	_ = nc.Flush()
	req2 := pb.ConnectRequest{ClientID: "ghost", HeartbeatInbox: nats.NewInbox(), Protocol: 1, ConnID: []byte("g2")}
	b2, _ := req2.Marshal()
	inbox := nats.NewInbox()
	rs, _ := nc.SubscribeSync(inbox)
	t0 := time.Now()
	_ = nc.PublishRequest("_STAN.discover."+clusterID, inbox, b2)
	time.Sleep(50 * time.Millisecond)
	req3 := pb.ConnectRequest{ClientID: "ghost", HeartbeatInbox: nats.NewInbox(), Protocol: 1, ConnID: []byte("g3")}
	b3, _ := req3.Marshal()
	m3, err := nc.Request("_STAN.discover."+clusterID, b3, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r3 pb.ConnectResponse
	_ = r3.Unmarshal(m3.Data)
	if r3.Error != "stan: clientID already registered" || time.Since(t0) > 450*time.Millisecond {
		t.Fatalf("during probe: %q after %v", r3.Error, time.Since(t0))
	}
	m2, err := rs.NextMsg(3 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(t0)
	var r2 pb.ConnectResponse
	_ = r2.Unmarshal(m2.Data)
	if r2.Error != "" || d < 400*time.Millisecond || d > 1500*time.Millisecond {
		t.Fatalf("replacement: %q after %v", r2.Error, d)
	}
}

// Closing a connection with a non-durable queue member hands its unacked
// message to the other member (SPEC §4.7, §5).
func TestAuditQueueMemberConnCloseHandsOver(t *testing.T) {
	_, url := start(t, nil)
	a := connect(t, url, "a")
	b := connect(t, url, "b")
	cha, ha := msgChan(10)
	chb, hb := msgChan(10)
	if _, err := a.QueueSubscribe("q", "g", ha, stan.SetManualAckMode(), stan.AckWait(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.QueueSubscribe("q", "g", hb, stan.SetManualAckMode(), stan.AckWait(30*time.Second), stan.MaxInflight(1)); err != nil {
		t.Fatal(err)
	}
	publishN(t, a, "q", 4)
	// b gets one (MaxInflight 1), a the rest.
	mb := recv(t, chb, 2*time.Second)
	got := map[uint64]bool{mb.Sequence: true}
	for i := 0; i < 3; i++ {
		got[recv(t, cha, 2*time.Second).Sequence] = true
	}
	if len(got) != 4 {
		t.Fatalf("got %v", got)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// b is stalled (1 pending) but redeliveries are forced.
	var seqs []uint64
	for i := 0; i < 3; i++ {
		m := recv(t, chb, 2*time.Second)
		if !m.Redelivered {
			t.Fatalf("not redelivered: %d", m.Sequence)
		}
		seqs = append(seqs, m.Sequence)
	}
	t.Logf("handed over %v", seqs)
}

func TestAuditDurableQueueLifecycle(t *testing.T) {
	_, url := start(t, nil)
	a := connect(t, url, "a")
	b := connect(t, url, "b")
	cha, ha := msgChan(10)
	chb, hb := msgChan(10)
	opts := []stan.SubscriptionOption{stan.DurableName("dur"), stan.SetManualAckMode(), stan.AckWait(30 * time.Second), stan.DeliverAllAvailable()}
	if _, err := a.QueueSubscribe("dq", "g", ha, opts...); err != nil {
		t.Fatal(err)
	}
	subB, err := b.QueueSubscribe("dq", "g", hb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, a, "dq", 4)
	na := 0
	for i := 0; i < 4; i++ {
		select {
		case <-cha:
			na++
		case <-chb:
		case <-time.After(2 * time.Second):
			t.Fatal("missing")
		}
	}
	if na != 2 {
		t.Fatalf("a got %d", na)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if m := recv(t, chb, 2*time.Second); !m.Redelivered {
			t.Fatalf("not redelivered %d", m.Sequence)
		}
	}
	// b holds 4 unacked; closing makes it the shadow.
	if err := subB.Close(); err != nil {
		t.Fatal(err)
	}
	publishN(t, b, "dq", 1)
	c := connect(t, url, "c")
	chc, hc := msgChan(10)
	if _, err := c.QueueSubscribe("dq", "g", hc, stan.DurableName("dur"), stan.SetManualAckMode(), stan.AckWait(30*time.Second), stan.StartAtSequence(5)); err != nil {
		t.Fatal(err)
	}
	expectDeliveries(t, chc, true, delivery{1, true}, delivery{2, true}, delivery{3, true}, delivery{4, true}, delivery{5, false})
	noMsg(t, chc, 100*time.Millisecond)
}

func TestAuditDurableQueueUnsubscribeDeletes(t *testing.T) {
	_, url := start(t, nil)
	a := connect(t, url, "a")
	ch, h := msgChan(10)
	sub, err := a.QueueSubscribe("dq", "g", h, stan.DurableName("dur"), stan.DeliverAllAvailable())
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, a, "dq", 2)
	expectDeliveries(t, ch, false, delivery{1, false}, delivery{2, false})
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	ch2, h2 := msgChan(10)
	if _, err := a.QueueSubscribe("dq", "g", h2, stan.DurableName("dur"), stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	expectDeliveries(t, ch2, false, delivery{1, false}, delivery{2, false})
}

func TestAuditQueueRedeliveryCountShared(t *testing.T) {
	_, url := start(t, nil)
	a := connect(t, url, "a")
	ch, h := msgChan(10)
	if _, err := a.QueueSubscribe("q", "g", h, stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.QueueSubscribe("q", "g", h, stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, a, "q", 1)
	for i := 0; i < 3; i++ {
		m := recv(t, ch, 3*time.Second)
		if m.Sequence != 1 || m.RedeliveryCount != uint32(i) || m.Redelivered != (i > 0) {
			t.Fatalf("%d: seq %d count %d", i, m.Sequence, m.RedeliveryCount)
		}
	}
}

func TestAuditDurableUnsubscribeRestarts(t *testing.T) {
	_, url := start(t, nil)
	a := connect(t, url, "a")
	publishN(t, a, "d", 3)
	ch, h := msgChan(10)
	sub, err := a.Subscribe("d", h, stan.DurableName("dur"), stan.DeliverAllAvailable())
	if err != nil {
		t.Fatal(err)
	}
	expectDeliveries(t, ch, false, delivery{1, false}, delivery{2, false}, delivery{3, false})
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	ch2, h2 := msgChan(10)
	if _, err := a.Subscribe("d", h2, stan.DurableName("dur"), stan.StartAtSequence(2)); err != nil {
		t.Fatal(err)
	}
	expectDeliveries(t, ch2, false, delivery{2, false}, delivery{3, false})
}

func TestAuditStalledRedeliveryThenAck(t *testing.T) {
	_, url := start(t, nil)
	a := connect(t, url, "a")
	ch, h := msgChan(10)
	if _, err := a.Subscribe("s", h, stan.SetManualAckMode(), stan.AckWait(time.Second), stan.MaxInflight(1)); err != nil {
		t.Fatal(err)
	}
	publishN(t, a, "s", 2)
	expectDeliveries(t, ch, false, delivery{1, false})
	m := recv(t, ch, 3*time.Second)
	if m.Sequence != 1 || !m.Redelivered {
		t.Fatalf("seq %d", m.Sequence)
	}
	_ = m.Ack()
	expectDeliveries(t, ch, true, delivery{2, false})
	noMsg(t, ch, 1500*time.Millisecond)
}

func TestAuditQueueJoinerIgnoresStart(t *testing.T) {
	_, url := start(t, nil)
	a := connect(t, url, "a")
	ch, h := msgChan(10)
	if _, err := a.QueueSubscribe("qj", "g", h); err != nil {
		t.Fatal(err)
	}
	publishN(t, a, "qj", 3)
	expectDeliveries(t, ch, false, delivery{1, false}, delivery{2, false}, delivery{3, false})
	if _, err := a.QueueSubscribe("qj", "g", h, stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	noMsg(t, ch, 200*time.Millisecond)
	publishN(t, a, "qj", 1)
	expectDeliveries(t, ch, false, delivery{4, false})
}

func TestAuditClientCrashAndReconnect(t *testing.T) {
	s, url := start(t, nil)
	nc1 := natsConn(t, url)
	sc1, err := stan.Connect(clusterID, "crash", stan.NatsConn(nc1))
	if err != nil {
		t.Fatal(err)
	}
	ch, h := msgChan(10)
	if _, err := sc1.Subscribe("cr", h, stan.DurableName("d"), stan.SetManualAckMode(), stan.AckWait(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := sc1.Subscribe("cr", func(*stan.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc1.QueueSubscribe("cr", "q", func(*stan.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := sc1.Publish("cr", []byte("x")); err != nil {
		t.Fatal(err)
	}
	recv(t, ch, 2*time.Second)
	nc1.Close()
	t0 := time.Now()
	sc2 := connect(t, url, "crash")
	if d := time.Since(t0); d > 300*time.Millisecond {
		t.Fatalf("reconnect took %v", d)
	}
	cz, _ := s.Channel("cr", true)
	if cz.SubsCount != 1 {
		t.Fatalf("subs after replace: %d %+v", cz.SubsCount, cz.Subscriptions)
	}
	ch2, h2 := msgChan(10)
	if _, err := sc2.Subscribe("cr", h2, stan.DurableName("d"), stan.SetManualAckMode()); err != nil {
		t.Fatal(err)
	}
	expectDeliveries(t, ch2, true, delivery{1, true})
}

func TestAuditFailedHBSkipsRedelivery(t *testing.T) {
	_, url := start(t, func(c *serverConfig) {
		c.ClientHBInterval = 200 * time.Millisecond
		c.ClientHBTimeout = 100 * time.Millisecond
		c.ClientHBFailCount = 1000
	})
	nc := natsConn(t, url)
	var answer atomic.Bool
	var hbs atomic.Int32
	hbInbox := nats.NewInbox()
	if _, err := nc.Subscribe(hbInbox, func(m *nats.Msg) {
		hbs.Add(1)
		if answer.Load() {
			_ = m.Respond(nil)
		}
	}); err != nil {
		t.Fatal(err)
	}
	creq := pb.ConnectRequest{ClientID: "sick", HeartbeatInbox: hbInbox, Protocol: 1, ConnID: []byte("sick1")}
	b, _ := creq.Marshal()
	if _, err := nc.Request("_STAN.discover."+clusterID, b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	inbox := nats.NewInbox()
	msgs, _ := nc.SubscribeSync(inbox)
	sreq := pb.SubscriptionRequest{ClientID: "sick", Subject: "hb", Inbox: inbox, MaxInFlight: 10, AckWaitInSecs: 1, DurableName: "d"}
	b, _ = sreq.Marshal()
	r, err := nc.Request("_STAN.sub."+clusterID, b, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var sresp pb.SubscriptionResponse
	if err := sresp.Unmarshal(r.Data); err != nil || sresp.Error != "" {
		t.Fatalf("sub: %v %q", err, sresp.Error)
	}
	pm := pb.PubMsg{ClientID: "sick", Guid: "g1", Subject: "hb", Data: []byte("x"), ConnID: []byte("sick1")}
	b, _ = pm.Marshal()
	if _, err := nc.Request("_STAN.pub."+clusterID+".hb", b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	next := func(d time.Duration) *pb.MsgProto {
		m, err := msgs.NextMsg(d)
		if err != nil {
			return nil
		}
		var mp pb.MsgProto
		_ = mp.Unmarshal(m.Data)
		return &mp
	}
	if m := next(2 * time.Second); m == nil || m.Sequence != 1 {
		t.Fatalf("first delivery %+v", m)
	}
	// HBs fail: no redelivery while they do.
	if m := next(2500 * time.Millisecond); m != nil {
		t.Fatalf("redelivered while HB failing: %+v (hbs %d)", m, hbs.Load())
	}
	// A PING makes the server check at once; the HB now succeeds.
	answer.Store(true)
	before := hbs.Load()
	ping, _ := (&pb.Ping{ConnID: []byte("sick1")}).Marshal()
	if _, err := nc.Request("_STAN.discover."+clusterID+".pings", ping, time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 150*time.Millisecond, "HB after ping", func() bool { return hbs.Load() > before })
	if m := next(2500 * time.Millisecond); m == nil || m.Sequence != 1 || !m.Redelivered {
		t.Fatalf("redelivery after recovery %+v", m)
	}
}

type failDialer struct {
	sync.Mutex
	fail bool
	conn net.Conn
	ch   chan bool
}

func (d *failDialer) Dial(network, address string) (net.Conn, error) {
	d.Lock()
	defer d.Unlock()
	if d.fail {
		return nil, errors.New("fail")
	}
	c, err := net.DialTimeout(network, address, time.Second)
	if err != nil {
		return nil, err
	}
	d.conn = c
	select {
	case d.ch <- true:
	default:
	}
	return c, nil
}

func TestAuditReplacedClientPubAndPing(t *testing.T) {
	_, url := start(t, nil)
	d := &failDialer{ch: make(chan bool, 1)}
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.SetCustomDialer(d))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	<-d.ch
	lost := make(chan error, 1)
	sc, err := stan.Connect(clusterID, "rep", stan.NatsConn(nc), stan.Pings(1, 100),
		stan.SetConnectionLostHandler(func(_ stan.Conn, err error) { lost <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.Publish("foo", []byte("x")); err != nil {
		t.Fatal(err)
	}
	d.Lock()
	d.fail = true
	d.conn.Close()
	d.Unlock()
	sc2 := connect(t, url, "rep")
	if err := sc2.Publish("foo", []byte("y")); err != nil {
		t.Fatal(err)
	}
	d.Lock()
	d.fail = false
	d.Unlock()
	select {
	case <-d.ch:
	case <-time.After(3 * time.Second):
		t.Fatal("no reconnect")
	}
	time.Sleep(50 * time.Millisecond)
	if err := sc.Publish("foo", []byte("z")); err == nil || err.Error() != "stan: invalid publish request" {
		t.Fatalf("old client publish: %v", err)
	}
	select {
	case e := <-lost:
		if !strings.Contains(e.Error(), "replaced") {
			t.Fatalf("lost: %v", e)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no lost handler")
	}
}

func TestAuditQueueUnstalledOnAcksMany(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	n := 10000
	for i := 0; i < n; i++ {
		if i == n-1 {
			if err := sc.Publish("foo", []byte("x")); err != nil {
				t.Fatal(err)
			}
		} else if _, err := sc.PublishAsync("foo", []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	var count int32
	done := make(chan bool, 1)
	cb := func(m *stan.Msg) {
		if atomic.AddInt32(&count, 1) == int32(n) {
			done <- true
		}
	}
	for i := 0; i < 4; i++ {
		if _, err := sc.QueueSubscribe("foo", "bar", cb, stan.DeliverAllAvailable(), stan.MaxInflight(5)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("got %d", atomic.LoadInt32(&count))
	}
}

func TestAuditStartPositionWithDurableCloseInCallback(t *testing.T) {
	for _, queue := range []bool{false, true} {
		_, url := start(t, nil)
		sc := connect(t, url, "c")
		total := 100
		for i := 0; i < total; i++ {
			if err := sc.Publish("foo", []byte("msg")); err != nil {
				t.Fatal(err)
			}
		}
		ch := make(chan bool)
		var expected atomic.Uint64
		expected.Store(1)
		var cur atomic.Value
		cur.Store(sc)
		cb := func(m *stan.Msg) {
			if m.Sequence == expected.Load() {
				cur.Load().(stan.Conn).Close()
				ch <- true
			}
		}
		sub := func(sc stan.Conn, opt stan.SubscriptionOption) {
			var err error
			if queue {
				_, err = sc.QueueSubscribe("foo", "g", cb, opt, stan.DurableName("dur"), stan.MaxInflight(1))
			} else {
				_, err = sc.Subscribe("foo", cb, opt, stan.DurableName("dur"), stan.MaxInflight(1))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		wait := func() {
			select {
			case <-ch:
			case <-time.After(5 * time.Second):
				t.Fatalf("queue=%v: did not get %d", queue, expected.Load())
			}
		}
		sub(sc, stan.DeliverAllAvailable())
		wait()
		opts := []stan.SubscriptionOption{stan.StartAtSequence(uint64(total - 5)), stan.StartAtSequence(uint64(total + 10)), stan.StartAtTime(time.Now().Add(10 * time.Second))}
		for i, o := range opts {
			expected.Store(uint64(i + 2))
			sc2, err := stan.Connect(clusterID, "c", stan.NatsURL(url))
			if err != nil {
				t.Fatal(err)
			}
			cur.Store(sc2)
			sub(sc2, o)
			wait()
		}
	}
}
