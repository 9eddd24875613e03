package server_test

import (
	"testing"
	"time"

	"github.com/nats-io/stan.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// A stalled subscription whose pending message was dropped by limits is
// un-stalled when the redelivery treats it as acked (SPEC §4.5, §4.6): the
// next message is delivered.
func TestPendingDroppedByLimitsUnstalls(t *testing.T) {
	_, url := startWithLimits(t, func(l *store.Limits) { l.MaxMsgs = 1 })
	sc := connect(t, url, "c")
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h, stan.SetManualAckMode(), stan.MaxInflight(1), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 1)
	if m := recv(t, ch, 2*time.Second); m.Sequence != 1 {
		t.Fatalf("seq %d", m.Sequence)
	}
	publishN(t, sc, "foo", 1) // drops 1 (max msgs 1); sub stalled
	noMsg(t, ch, 300*time.Millisecond)
	// At the ack timeout 1 is gone: treated as acked, 2 follows.
	m := recv(t, ch, 3*time.Second)
	if m.Sequence != 2 || m.Redelivered {
		t.Fatalf("got seq=%d redelivered=%v, want 2 not redelivered", m.Sequence, m.Redelivered)
	}
}

// A queue member whose expired message went to another member (implicit
// ack) is no longer stalled: it gets new messages again (SPEC §4.6, §4.7).
func TestQueueImplicitAckUnstalls(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	chA := make(chan *stan.Msg, 10)
	chB := make(chan *stan.Msg, 10)
	// A never acks; B acks everything.
	if _, err := sc.QueueSubscribe("foo", "q", func(m *stan.Msg) { chA <- m },
		stan.SetManualAckMode(), stan.MaxInflight(1), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.QueueSubscribe("foo", "q", func(m *stan.Msg) { _ = m.Ack(); chB <- m },
		stan.SetManualAckMode(), stan.MaxInflight(5), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	acked := func() bool {
		cz, _ := s.Channel("foo", true)
		n := 0
		for _, sz := range cz.Subscriptions {
			n += sz.PendingCount
		}
		return n == 1 // only A's
	}
	publishN(t, sc, "foo", 1)
	if m := recv(t, chA, 2*time.Second); m.Sequence != 1 {
		t.Fatalf("A got %d", m.Sequence)
	}
	for i := 2; i <= 3; i++ {
		publishN(t, sc, "foo", 1)
		if m := recv(t, chB, 2*time.Second); m.Sequence != uint64(i) {
			t.Fatalf("B got %d", m.Sequence)
		}
		waitFor(t, 2*time.Second, "B ack", acked)
	}
	// 1 expires on A, goes to B (A had 1 pending, B none).
	m := recv(t, chB, 3*time.Second)
	if m.Sequence != 1 || !m.Redelivered || m.RedeliveryCount != 1 {
		t.Fatalf("B redelivery: seq=%d redelivered=%v count=%d", m.Sequence, m.Redelivered, m.RedeliveryCount)
	}
	waitNoPending(t, s, "foo", -1) // B's ack of 1
	// Both members have nothing pending; A, first in the list, is chosen.
	publishN(t, sc, "foo", 1)
	select {
	case m := <-chA:
		if m.Sequence != 4 {
			t.Fatalf("A got %d", m.Sequence)
		}
	case m := <-chB:
		t.Fatalf("B got %d: A stayed stalled after its message moved to B", m.Sequence)
	case <-time.After(2 * time.Second):
		t.Fatal("no delivery")
	}
}

// out_bytes counts the delivered MsgProto as sent (SPEC §4.5 stats).
func TestOutBytesCountsDeliveredMessages(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h); err != nil {
		t.Fatal(err)
	}
	if err := sc.Publish("foo", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	recv(t, ch, 2*time.Second)
	z := s.Serverz()
	if z.OutMsgs != 1 || z.OutBytes <= 5 {
		t.Fatalf("out msgs=%d bytes=%d, want 1 and the MsgProto size", z.OutMsgs, z.OutBytes)
	}
	t.Logf("in=%d/%d out=%d/%d", z.InMsgs, z.InBytes, z.OutMsgs, z.OutBytes)
}

// A publish payload that is not a PubMsg but decodes as the reference's
// legacy control message gets no PubAck; other undecodable payloads get
// "stan: invalid publish request" (SPEC §3 step 1).
func TestPublishLegacyControlMessageDropped(t *testing.T) {
	s, url := start(t, nil)
	nc := natsConn(t, url)
	subj := "_STAN.pub." + clusterID + ".foo"
	for _, tc := range []struct {
		name    string
		data    []byte
		dropped bool
	}{
		{"ctrl msg", []byte{0x08, 0x01, 0x12, 0x02, 's', '1', 0x1a, 0x01, 'x'}, true},
		{"sha256 as varint", []byte{0x12, 0x01, 'g', 0x50, 0x01}, true},
		{"data as varint", []byte{0x0a, 0x01, 'c', 0x28, 0x01}, false},
		{"garbage", []byte{0xff, 0xff}, false},
	} {
		msg, err := nc.Request(subj, tc.data, 300*time.Millisecond)
		if tc.dropped {
			if err == nil {
				t.Fatalf("%s: got a reply %q, want none", tc.name, msg.Data)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var pa pb.PubAck
		if err := pa.Unmarshal(msg.Data); err != nil || pa.Error != "stan: invalid publish request" {
			t.Fatalf("%s: ack %+v %v", tc.name, pa, err)
		}
	}
	// Control messages are not counted as inbound messages.
	if z := s.Serverz(); z.InMsgs != 2 || z.InBytes != 7 {
		t.Fatalf("in msgs=%d bytes=%d, want 2 and 7", z.InMsgs, z.InBytes)
	}
}

// A resumed durable's pending messages are redelivered at once; their next
// expiration is the previous one plus ackWait, as for any redelivery of a
// pending message (SPEC §4.6, §4.8), not a fresh ackWait from the resume.
func TestDurableResumeKeepsAckDeadlines(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(10)
	opts := []stan.SubscriptionOption{stan.DurableName("d"), stan.SetManualAckMode(), stan.AckWait(time.Second)}
	sub, err := sc.Subscribe("foo", h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 1)
	recv(t, ch, 2*time.Second)
	delivered := time.Now() // expires at delivered+1s
	time.Sleep(300 * time.Millisecond)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	ch2, h2 := msgChan(10)
	if _, err := sc.Subscribe("foo", h2, opts...); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch2, 2*time.Second); m.Sequence != 1 || !m.Redelivered || m.RedeliveryCount != 1 {
		t.Fatalf("resume: seq=%d redelivered=%v count=%d", m.Sequence, m.Redelivered, m.RedeliveryCount)
	}
	// Next expiration: delivered+1s+1s.
	m := recv(t, ch2, 3*time.Second)
	if m.Sequence != 1 || m.RedeliveryCount != 2 {
		t.Fatalf("second redelivery: seq=%d count=%d", m.Sequence, m.RedeliveryCount)
	}
	if d := time.Since(delivered); d < 1800*time.Millisecond || d > 2600*time.Millisecond {
		t.Fatalf("second redelivery %v after the first delivery, want ~2s", d)
	}
}

// A PING that decodes but carries no ConnID matches no client: it is
// answered with the "replaced" error; only an empty payload gets no answer
// (SPEC §2.4).
func TestPingWithoutConnID(t *testing.T) {
	_, url := start(t, nil)
	nc := natsConn(t, url)
	subj := "_STAN.discover." + clusterID + ".pings"
	msg, err := nc.Request(subj, []byte{0x0a, 0x00}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var pr pb.PingResponse
	if err := pr.Unmarshal(msg.Data); err != nil || pr.Error != "client has been replaced or is no longer registered" {
		t.Fatalf("ping response: %v %q", err, pr.Error)
	}
	if _, err := nc.Request(subj, nil, 200*time.Millisecond); err == nil {
		t.Fatal("empty ping answered")
	}
}

// A queue member that joins an existing group starts with last_sent 0 (the
// group's position is the group's); when a member leaves while others
// remain, the group's last sent sequence is kept in a remaining member's
// record, so a restart does not deliver again what the leaver had acked.
func TestQueueMemberLastSentAndLeaveKeepsGroupPosition(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	st := openFileStore(t, dir)
	s := activate(t, cfg, st)
	sc := connect(t, url, "c")
	chA, hA := msgChan(10)
	chB, hB := msgChan(10)
	a, err := sc.QueueSubscribe("foo", "q", hA)
	if err != nil {
		t.Fatal(err)
	}
	acked := func() {
		t.Helper()
		waitNoPending(t, s, "foo", -1)
	}
	publishN(t, sc, "foo", 3)
	for i := 0; i < 3; i++ {
		recv(t, chA, 2*time.Second)
	}
	acked()
	if _, err := sc.QueueSubscribe("foo", "q", hB); err != nil {
		t.Fatal(err)
	}
	cz, _ := s.Channel("foo", true)
	if len(cz.Subscriptions) != 2 || cz.Subscriptions[0].LastSent+cz.Subscriptions[1].LastSent != 3 {
		t.Fatalf("new member's last_sent should be 0: %+v", cz.Subscriptions)
	}
	// 4 to A, 5 to B, 6 to A (round robin among equals).
	for _, w := range []struct {
		seq uint64
		ch  chan *stan.Msg
	}{{4, chA}, {5, chB}, {6, chA}} {
		publishN(t, sc, "foo", 1)
		if m := recv(t, w.ch, 2*time.Second); m.Sequence != w.seq {
			t.Fatalf("got %d want %d", m.Sequence, w.seq)
		}
		acked()
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Restart on the same datastore; the client keeps its session.
	_ = s.Close()
	_ = st.Close()
	st2 := openFileStore(t, dir)
	defer st2.Close()
	s2 := activate(t, cfg, st2)
	defer s2.Close()
	noMsg(t, chB, 500*time.Millisecond)
	publishN(t, sc, "foo", 1)
	if m := recv(t, chB, 2*time.Second); m.Sequence != 7 || m.Redelivered {
		t.Fatalf("after restart: seq=%d redelivered=%v", m.Sequence, m.Redelivered)
	}
}

// A member that received the group's last message unsubscribes, the server
// restarts: a new member gets only new messages (the group's last sent
// sequence survived in the remaining member's record).
func TestQueueLeavingMemberUpdatesGroupLastSentAcrossRestart(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	st := openFileStore(t, dir)
	s := activate(t, cfg, st)
	sc := connect(t, url, "c")
	publishN(t, sc, "foo", 1)
	ch1, h1 := msgChan(10)
	if _, err := sc.QueueSubscribe("foo", "group", h1, stan.DeliverAllAvailable(), stan.MaxInflight(1),
		stan.SetManualAckMode()); err != nil {
		t.Fatal(err)
	}
	recv(t, ch1, 2*time.Second) // 1, never acked: member 1 stalled
	publishN(t, sc, "foo", 1)
	ch2, h2 := msgChan(10)
	sub2, err := sc.QueueSubscribe("foo", "group", h2, stan.DeliverAllAvailable())
	if err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch2, 2*time.Second); m.Sequence != 2 {
		t.Fatalf("member 2 got %d", m.Sequence)
	}
	if err := sub2.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_ = st.Close()
	st2 := openFileStore(t, dir)
	defer st2.Close()
	s2 := activate(t, cfg, st2)
	defer s2.Close()
	publishN(t, sc, "foo", 1)
	ch3, h3 := msgChan(10)
	if _, err := sc.QueueSubscribe("foo", "group", h3, stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch3, 2*time.Second); m.Sequence != 3 {
		t.Fatalf("new member got %d, want 3", m.Sequence)
	}
	noMsg(t, ch3, 250*time.Millisecond)
}
