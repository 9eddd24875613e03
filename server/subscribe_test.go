package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"
	"github.com/nats-io/stan.go/pb"
)

func publishN(t *testing.T, sc stan.Conn, ch string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if err := sc.Publish(ch, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStartPositions(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	publishN(t, sc, "foo", 5)
	cases := []struct {
		name  string
		opt   stan.SubscriptionOption
		first uint64 // first sequence delivered; 6 = only new
	}{
		{"new-only", stan.StartAt(pb.StartPosition_NewOnly), 6},
		{"last-received", stan.StartWithLastReceived(), 5},
		{"all", stan.DeliverAllAvailable(), 1},
		{"seq-3", stan.StartAtSequence(3), 3},
		{"seq-0", stan.StartAtSequence(0), 1},
		{"seq-100", stan.StartAtSequence(100), 6},
		{"time-long-ago", stan.StartAtTimeDelta(time.Hour), 1},
		{"time-future", stan.StartAtTime(time.Now().Add(time.Hour)), 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, h := msgChan(100)
			sub, err := sc.Subscribe("foo", h, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			if tc.first == 6 {
				noMsg(t, ch, 100*time.Millisecond)
				return
			}
			for want := tc.first; want <= 5; want++ {
				if m := recv(t, ch, 2*time.Second); m.Sequence != want {
					t.Fatalf("got seq %d want %d", m.Sequence, want)
				}
			}
		})
	}
	// New messages after new-only subscription.
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 1)
	if m := recv(t, ch, 2*time.Second); m.Sequence != 6 {
		t.Fatalf("seq %d", m.Sequence)
	}
	// Empty channel, last received.
	ch2, h2 := msgChan(10)
	if _, err := sc.Subscribe("empty", h2, stan.StartWithLastReceived()); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "empty", 1)
	if m := recv(t, ch2, 2*time.Second); m.Sequence != 1 {
		t.Fatalf("seq %d", m.Sequence)
	}
}

func TestSubscriptionRequestErrors(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.AckWait(500*time.Millisecond)); err == nil ||
		err.Error() != "stan: invalid ack wait time, should be >= 1s" {
		t.Fatalf("ack wait: %v", err)
	}
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.MaxInflight(0)); err == nil ||
		err.Error() != "stan: invalid MaxInflight, should be >= 1" {
		t.Fatalf("max inflight: %v", err)
	}
	if _, err := sc.Subscribe("foo.*", func(*stan.Msg) {}); err == nil || err.Error() != "stan: invalid subject" {
		t.Fatalf("wildcard: %v", err)
	}
	if _, err := sc.QueueSubscribe("foo", "q", func(*stan.Msg) {}, stan.DurableName("a:b")); err == nil ||
		err.Error() != "stan: durable name of a durable queue subscriber can't contain the character ':'" {
		t.Fatalf("durable queue name: %v", err)
	}
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.DurableName("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.DurableName("d")); err == nil ||
		err.Error() != "stan: duplicate durable registration" {
		t.Fatalf("duplicate durable: %v", err)
	}
	// Raw requests.
	nc := natsConn(t, url)
	ask := func(req *pb.SubscriptionRequest, raw []byte) string {
		t.Helper()
		data := raw
		if req != nil {
			data, _ = req.Marshal()
		}
		msg, err := nc.Request("_STAN.sub."+clusterID, data, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var resp pb.SubscriptionResponse
		if err := resp.Unmarshal(msg.Data); err != nil {
			t.Fatal(err)
		}
		return resp.Error
	}
	good := func() *pb.SubscriptionRequest {
		return &pb.SubscriptionRequest{ClientID: "c", Subject: "foo", Inbox: nats.NewInbox(), MaxInFlight: 1, AckWaitInSecs: 1}
	}
	if got := ask(nil, []byte{0xff, 0xff}); got != "stan: invalid subscription request" {
		t.Fatalf("garbage: %q", got)
	}
	r := good()
	r.ClientID = ""
	if got := ask(r, nil); got != "stan: clientID missing" {
		t.Fatalf("no client: %q", got)
	}
	r = good()
	r.StartPosition = 7
	if got := ask(r, nil); got != "stan: invalid start position" {
		t.Fatalf("start: %q", got)
	}
	r = good()
	r.ClientID = "nobody"
	if got := ask(r, nil); got != "stan: unknown clientID" {
		t.Fatalf("unknown: %q", got)
	}
	r = good()
	r.Subject = "Foo"
	if got := ask(r, nil); !strings.HasPrefix(got, `rejecting channel "Foo" because channel "foo"`) {
		t.Fatalf("case: %q", got)
	}
	if got := ask(good(), nil); got != "" {
		t.Fatalf("good: %q", got)
	}
}

func TestManualAckAndRedelivery(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(100)
	if _, err := sc.Subscribe("foo", h, stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 2)
	m1 := recv(t, ch, 2*time.Second)
	m2 := recv(t, ch, 2*time.Second)
	if m1.Sequence != 1 || m2.Sequence != 2 || m1.Redelivered {
		t.Fatalf("first delivery %d %d", m1.Sequence, m2.Sequence)
	}
	if err := m1.Ack(); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	r := recv(t, ch, 3*time.Second)
	if r.Sequence != 2 || !r.Redelivered || r.RedeliveryCount != 1 {
		t.Fatalf("redelivery: seq=%d redelivered=%v count=%d", r.Sequence, r.Redelivered, r.RedeliveryCount)
	}
	if d := time.Since(sent); d < 700*time.Millisecond {
		t.Fatalf("redelivered too early: %v", d)
	}
	r2 := recv(t, ch, 3*time.Second)
	if r2.Sequence != 2 || r2.RedeliveryCount != 2 {
		t.Fatalf("second redelivery: %d %d", r2.Sequence, r2.RedeliveryCount)
	}
	if err := r2.Ack(); err != nil {
		t.Fatal(err)
	}
	noMsg(t, ch, 1300*time.Millisecond)
}

func TestMaxInflightStall(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(100)
	if _, err := sc.Subscribe("foo", h, stan.SetManualAckMode(), stan.MaxInflight(2), stan.AckWait(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 5)
	a := recv(t, ch, 2*time.Second)
	b := recv(t, ch, 2*time.Second)
	noMsg(t, ch, 200*time.Millisecond)
	cz, _ := s.Channel("foo", true)
	if len(cz.Subscriptions) != 1 || !cz.Subscriptions[0].IsStalled || cz.Subscriptions[0].PendingCount != 2 {
		t.Fatalf("sub state: %+v", cz.Subscriptions)
	}
	_ = a.Ack()
	if m := recv(t, ch, 2*time.Second); m.Sequence != 3 {
		t.Fatalf("after ack: %d", m.Sequence)
	}
	noMsg(t, ch, 100*time.Millisecond)
	_ = b.Ack()
	if m := recv(t, ch, 2*time.Second); m.Sequence != 4 {
		t.Fatalf("after ack: %d", m.Sequence)
	}
}

func TestAutoAckFlow(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(2000)
	if _, err := sc.Subscribe("foo", h, stan.MaxInflight(10)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 200)
	for want := uint64(1); want <= 200; want++ {
		if m := recv(t, ch, 2*time.Second); m.Sequence != want || m.Redelivered {
			t.Fatalf("got %d (redelivered %v), want %d", m.Sequence, m.Redelivered, want)
		}
	}
}

func TestUnsubscribeAndClose(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	sub, err := sc.Subscribe("foo", func(*stan.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	sub2, err := sc.Subscribe("foo", func(*stan.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	if cz, _ := s.Channel("foo", false); cz.SubsCount != 2 {
		t.Fatalf("subs = %d", cz.SubsCount)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := sub2.Close(); err != nil {
		t.Fatal(err)
	}
	if cz, _ := s.Channel("foo", false); cz.SubsCount != 0 {
		t.Fatalf("subs = %d", cz.SubsCount)
	}
	// Raw error cases.
	nc := natsConn(t, url)
	ask := func(subj string, data []byte) string {
		t.Helper()
		msg, err := nc.Request(subj, data, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var resp pb.SubscriptionResponse
		if err := resp.Unmarshal(msg.Data); err != nil {
			t.Fatal(err)
		}
		return resp.Error
	}
	for _, subj := range []string{"_STAN.unsub." + clusterID, "_STAN.subclose." + clusterID} {
		if got := ask(subj, []byte{0xff, 0xff}); got != "stan: invalid unsubscribe request" {
			t.Fatalf("garbage: %q", got)
		}
		req, _ := (&pb.UnsubscribeRequest{ClientID: "c", Subject: "nope", Inbox: "x"}).Marshal()
		if got := ask(subj, req); got != "stan: unknown channel" {
			t.Fatalf("channel: %q", got)
		}
		req, _ = (&pb.UnsubscribeRequest{ClientID: "c", Subject: "foo", Inbox: "x"}).Marshal()
		if got := ask(subj, req); got != "stan: invalid subscription" {
			t.Fatalf("sub: %q", got)
		}
	}
	// Not the owner.
	ch, h := msgChan(1)
	if _, err := sc.Subscribe("foo", h); err != nil {
		t.Fatal(err)
	}
	cz, _ := s.Channel("foo", true)
	req, _ := (&pb.UnsubscribeRequest{ClientID: "other", Subject: "foo", Inbox: cz.Subscriptions[0].AckInbox}).Marshal()
	if got := ask("_STAN.unsub."+clusterID, req); got != "stan: unknown clientID" {
		t.Fatalf("owner: %q", got)
	}
	// Close request errors.
	msg, err := nc.Request("_STAN.close."+clusterID, []byte{0xff, 0xff}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var cr pb.CloseResponse
	if _ = cr.Unmarshal(msg.Data); cr.Error != "stan: invalid close request" {
		t.Fatalf("close garbage: %q", cr.Error)
	}
	data, _ := (&pb.CloseRequest{ClientID: "nobody"}).Marshal()
	msg, _ = nc.Request("_STAN.close."+clusterID, data, 2*time.Second)
	cr = pb.CloseResponse{}
	if _ = cr.Unmarshal(msg.Data); cr.Error != "stan: unknown clientID" {
		t.Fatalf("close unknown: %q", cr.Error)
	}
	publishN(t, sc, "foo", 1)
	recv(t, ch, 2*time.Second)
}

// Acks sent right before a Close are processed before it (SPEC §1).
func TestAcksBeforeClose(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(100)
	sub, err := sc.Subscribe("foo", h, stan.SetManualAckMode(), stan.DurableName("dur"), stan.MaxInflight(100))
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 50)
	for i := 0; i < 50; i++ {
		m := recv(t, ch, 2*time.Second)
		_ = m.Ack()
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	cz, _ := s.Channel("foo", true)
	if len(cz.Subscriptions) != 1 || !cz.Subscriptions[0].IsOffline || cz.Subscriptions[0].PendingCount != 0 {
		t.Fatalf("durable after close: %+v", cz.Subscriptions)
	}
}

// The subscription response reaches the client before the first message
// (SPEC §1): with a backlog and a small MaxInflight, a message delivered
// before the client knew its ack inbox would never be acked and delivery
// would stall.
func TestReplyBeforeData(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	publishN(t, sc, "foo", 500)
	for i := 0; i < 5; i++ {
		ch, h := msgChan(1000)
		sub, err := sc.Subscribe("foo", h, stan.DeliverAllAvailable(), stan.MaxInflight(3), stan.AckWait(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for want := uint64(1); want <= 500; want++ {
			if m := recv(t, ch, 2*time.Second); m.Sequence != want {
				t.Fatalf("got %d want %d", m.Sequence, want)
			}
		}
		_ = sub.Unsubscribe()
	}
}

// A client that stops answering heartbeats has its subscriptions flagged:
// no ack-wait redelivery; a queue group prefers healthy members.
func TestHeartbeatFailureFlagsQueueMember(t *testing.T) {
	s, url := start(t, func(c *serverConfig) {
		c.ClientHBInterval = 50 * time.Millisecond
		c.ClientHBTimeout = 50 * time.Millisecond
		c.ClientHBFailCount = 1000
	})
	good := connect(t, url, "good")
	ch, h := msgChan(100)
	if _, err := good.QueueSubscribe("foo", "q", h); err != nil {
		t.Fatal(err)
	}
	// A raw client whose heartbeat inbox nobody answers, with a member
	// subscription on an inbox nobody reads.
	nc := natsConn(t, url)
	req := pb.ConnectRequest{ClientID: "sick", HeartbeatInbox: nats.NewInbox(), Protocol: 1, ConnID: []byte("s1")}
	b, _ := req.Marshal()
	if _, err := nc.Request("_STAN.discover."+clusterID, b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	sreq := pb.SubscriptionRequest{ClientID: "sick", Subject: "foo", QGroup: "q", Inbox: nats.NewInbox(), MaxInFlight: 100, AckWaitInSecs: 30}
	b, _ = sreq.Marshal()
	msg, err := nc.Request("_STAN.sub."+clusterID, b, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var resp pb.SubscriptionResponse
	if err := resp.Unmarshal(msg.Data); err != nil || resp.Error != "" {
		t.Fatalf("subscribe: %v %q", err, resp.Error)
	}
	time.Sleep(300 * time.Millisecond) // several failed heartbeats
	publishN(t, good, "foo", 20)
	for i := 0; i < 20; i++ {
		recv(t, ch, 2*time.Second)
	}
	cz, _ := s.Channel("foo", true)
	for _, sz := range cz.Subscriptions {
		if sz.ClientID == "sick" && sz.PendingCount != 0 {
			t.Fatalf("sick member got %d messages", sz.PendingCount)
		}
	}
}

// The client's subscribe-timeout cleanup closes by delivery inbox.
func TestSubCloseByDeliveryInbox(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}); err != nil {
		t.Fatal(err)
	}
	cz, _ := s.Channel("foo", true)
	inbox := cz.Subscriptions[0].Inbox
	nc := natsConn(t, url)
	req, _ := (&pb.UnsubscribeRequest{ClientID: "c", Subject: "foo", Inbox: inbox}).Marshal()
	msg, err := nc.Request("_STAN.subclose."+clusterID, req, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var resp pb.SubscriptionResponse
	if err := resp.Unmarshal(msg.Data); err != nil || resp.Error != "" {
		t.Fatalf("sub close: %v %q", err, resp.Error)
	}
	if cz, _ := s.Channel("foo", false); cz.SubsCount != 0 {
		t.Fatalf("subs = %d", cz.SubsCount)
	}
}

// A queue group whose members are all stalled resumes when one acks.
func TestQueueGroupStallAndResume(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(100)
	for i := 0; i < 2; i++ {
		if _, err := sc.QueueSubscribe("foo", "q", h, stan.SetManualAckMode(), stan.MaxInflight(1), stan.AckWait(30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	publishN(t, sc, "foo", 4)
	a := recv(t, ch, 2*time.Second)
	b := recv(t, ch, 2*time.Second)
	noMsg(t, ch, 200*time.Millisecond)
	_ = a.Ack()
	c := recv(t, ch, 2*time.Second)
	_ = b.Ack()
	d := recv(t, ch, 2*time.Second)
	seqs := map[uint64]bool{a.Sequence: true, b.Sequence: true, c.Sequence: true, d.Sequence: true}
	if len(seqs) != 4 || c.Redelivered || d.Redelivered {
		t.Fatalf("deliveries %d %d %d %d", a.Sequence, b.Sequence, c.Sequence, d.Sequence)
	}
}

// An ack that un-stalls a subscription followed at once by garbage on the
// same ack inbox still resumes delivery.
func TestUnstallWithTrailingGarbage(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h, stan.SetManualAckMode(), stan.MaxInflight(1), stan.AckWait(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 2)
	m := recv(t, ch, 2*time.Second)
	cz, _ := s.Channel("foo", true)
	ackInbox := cz.Subscriptions[0].AckInbox
	nc := natsConn(t, url)
	ack, _ := (&pb.Ack{Subject: "foo", Sequence: m.Sequence}).Marshal()
	for i := 0; i < 20; i++ { // queue acks and garbage together
		_ = nc.Publish(ackInbox, ack)
		_ = nc.Publish(ackInbox, []byte{0xff, 0xff})
	}
	_ = nc.Flush()
	if m2 := recv(t, ch, 2*time.Second); m2.Sequence != 2 {
		t.Fatalf("seq %d", m2.Sequence)
	}
}
