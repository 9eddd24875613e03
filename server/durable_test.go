package server_test

import (
	"testing"
	"time"

	"github.com/nats-io/stan.go"
)

func TestDurableResume(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(100)
	sub, err := sc.Subscribe("foo", h, stan.DurableName("dur"), stan.SetManualAckMode(),
		stan.DeliverAllAvailable(), stan.AckWait(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 3)
	m1 := recv(t, ch, 2*time.Second)
	recv(t, ch, 2*time.Second)
	recv(t, ch, 2*time.Second)
	_ = m1.Ack()
	// Ack processed before the close; 2 and 3 stay pending.
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 2) // 4, 5 while offline
	cz, _ := s.Channel("foo", true)
	if len(cz.Subscriptions) != 1 || !cz.Subscriptions[0].IsOffline || cz.Subscriptions[0].PendingCount != 2 {
		t.Fatalf("offline durable: %+v", cz.Subscriptions)
	}
	// Resume: start position ignored; pending first, redelivered, then new.
	ch2, h2 := msgChan(100)
	sub2, err := sc.Subscribe("foo", h2, stan.DurableName("dur"), stan.StartAt(0))
	if err != nil {
		t.Fatal(err)
	}
	expectDeliveries(t, ch2, false, delivery{2, true}, delivery{3, true}, delivery{4, false}, delivery{5, false})
	noMsg(t, ch2, 100*time.Millisecond)
	// Unsubscribe deletes the durable: a new one starts fresh.
	if err := sub2.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if cz, _ := s.Channel("foo", false); cz.SubsCount != 0 {
		t.Fatalf("subs after unsubscribe: %d", cz.SubsCount)
	}
	ch3, h3 := msgChan(10)
	if _, err := sc.Subscribe("foo", h3, stan.DurableName("dur")); err != nil {
		t.Fatal(err)
	}
	noMsg(t, ch3, 100*time.Millisecond)
}

func TestDurableSurvivesConnectionClose(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h, stan.DurableName("dur")); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 1)
	recv(t, ch, 2*time.Second)
	// The client auto-acks after the handler returns.
	waitFor(t, 2*time.Second, "auto ack", func() bool {
		cz, _ := s.Channel("foo", true)
		return len(cz.Subscriptions) == 1 && cz.Subscriptions[0].PendingCount == 0
	})
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	pub := connect(t, url, "pub")
	publishN(t, pub, "foo", 1)
	// Another client ID has an independent durable.
	other := connect(t, url, "other")
	chO, hO := msgChan(10)
	if _, err := other.Subscribe("foo", hO, stan.DurableName("dur"), stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	recv(t, chO, 2*time.Second)
	recv(t, chO, 2*time.Second)
	sc2 := connect(t, url, "c")
	ch2, h2 := msgChan(10)
	if _, err := sc2.Subscribe("foo", h2, stan.DurableName("dur")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch2, 2*time.Second); m.Sequence != 2 || m.Redelivered {
		t.Fatalf("resumed: %d %v", m.Sequence, m.Redelivered)
	}
	if cz, _ := s.Channel("foo", false); cz.SubsCount != 2 {
		t.Fatalf("subs = %d", cz.SubsCount)
	}
}

func TestReplaceDurable(t *testing.T) {
	_, url := start(t, func(c *serverConfig) { c.ReplaceDurable = true })
	sc := connect(t, url, "c")
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.DurableName("d")); err != nil {
		t.Fatal(err)
	}
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h, stan.DurableName("d")); err != nil {
		t.Fatalf("replace: %v", err)
	}
	publishN(t, sc, "foo", 1)
	recv(t, ch, 2*time.Second)
}

func TestQueueGroup(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	ch1, h1 := msgChan(100)
	ch2, h2 := msgChan(100)
	if _, err := sc.QueueSubscribe("foo", "q", h1); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.QueueSubscribe("foo", "q", h2, stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 20)
	got := map[uint64]int{}
	n1, n2 := 0, 0
	deadline := time.After(3 * time.Second)
	for len(got) < 20 {
		select {
		case m := <-ch1:
			got[m.Sequence]++
			n1++
		case m := <-ch2:
			got[m.Sequence]++
			n2++
		case <-deadline:
			t.Fatalf("got %d messages", len(got))
		}
	}
	if n1 == 0 || n2 == 0 || n1+n2 != 20 {
		t.Fatalf("distribution %d/%d", n1, n2)
	}
	noMsg(t, ch1, 50*time.Millisecond)
	noMsg(t, ch2, 50*time.Millisecond)
}

func TestQueueMemberLeavingHandsOver(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	ch1, h1 := msgChan(100)
	ch2, h2 := msgChan(100)
	leaver, err := sc.QueueSubscribe("foo", "q", h1, stan.SetManualAckMode(), stan.MaxInflight(5), stan.AckWait(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 3) // all to the only member, unacked
	for i := 0; i < 3; i++ {
		recv(t, ch1, 2*time.Second)
	}
	if _, err := sc.QueueSubscribe("foo", "q", h2, stan.AckWait(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := leaver.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for want := uint64(1); want <= 3; want++ {
		m := recv(t, ch2, 2*time.Second)
		if m.Sequence != want || !m.Redelivered {
			t.Fatalf("handed over: seq=%d redelivered=%v", m.Sequence, m.Redelivered)
		}
	}
	if time.Since(start) > time.Second {
		t.Fatalf("hand-over took %v", time.Since(start))
	}
	publishN(t, sc, "foo", 1)
	if m := recv(t, ch2, 2*time.Second); m.Sequence != 4 {
		t.Fatalf("group lastSent lost: %d", m.Sequence)
	}
	if cz, _ := s.Channel("foo", false); cz.SubsCount != 1 {
		t.Fatalf("subs = %d", cz.SubsCount)
	}
}

func TestQueueRedeliveryToOtherMember(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	ch1, h1 := msgChan(100)
	if _, err := sc.QueueSubscribe("foo", "q", h1, stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 1)
	recv(t, ch1, 2*time.Second) // never acked
	ch2, h2 := msgChan(100)
	if _, err := sc.QueueSubscribe("foo", "q", h2, stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	// The expired message goes to the best member (fewest pending): member 2.
	m := recv(t, ch2, 3*time.Second)
	if m.Sequence != 1 || !m.Redelivered {
		t.Fatalf("redelivery: %d %v", m.Sequence, m.Redelivered)
	}
	noMsg(t, ch1, 1500*time.Millisecond)
}

func TestNonDurableQueueGroupDeleted(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	sub, err := sc.QueueSubscribe("foo", "q", func(*stan.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 3)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	ch, h := msgChan(10)
	if _, err := sc.QueueSubscribe("foo", "q", h, stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	// A new group: its creator's start position applies.
	if m := recv(t, ch, 2*time.Second); m.Sequence != 1 {
		t.Fatalf("seq %d", m.Sequence)
	}
}

func TestDurableQueueGroupShadow(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(100)
	sub, err := sc.QueueSubscribe("foo", "q", h, stan.DurableName("dur"), stan.SetManualAckMode(),
		stan.DeliverAllAvailable(), stan.AckWait(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 3)
	m1 := recv(t, ch, 2*time.Second)
	recv(t, ch, 2*time.Second)
	recv(t, ch, 2*time.Second)
	_ = m1.Ack()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	cz, _ := s.Channel("foo", true)
	if len(cz.Subscriptions) != 1 || !cz.Subscriptions[0].IsOffline || cz.Subscriptions[0].QueueName != "dur:q" ||
		cz.Subscriptions[0].LastSent != 3 {
		t.Fatalf("shadow: %+v", cz.Subscriptions)
	}
	publishN(t, sc, "foo", 1)
	// Another client adopts the shadow; start position ignored.
	other := connect(t, url, "other")
	ch2, h2 := msgChan(100)
	sub2, err := other.QueueSubscribe("foo", "q", h2, stan.DurableName("dur"), stan.StartAt(0))
	if err != nil {
		t.Fatal(err)
	}
	expectDeliveries(t, ch2, false, delivery{2, true}, delivery{3, true}, delivery{4, false})
	// Last member unsubscribes: group deleted.
	if err := sub2.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if cz, _ := s.Channel("foo", false); cz.SubsCount != 0 {
		t.Fatalf("subs = %d", cz.SubsCount)
	}
}

func TestDurableQueueGroupSurvivesConnectionClose(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	if _, err := sc.QueueSubscribe("foo", "q", func(*stan.Msg) {}, stan.DurableName("dur")); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 2)
	waitFor(t, 2*time.Second, "acks", func() bool {
		cz, _ := s.Channel("foo", true)
		return len(cz.Subscriptions) == 1 && cz.Subscriptions[0].PendingCount == 0
	})
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	sc2 := connect(t, url, "c2")
	publishN(t, sc2, "foo", 1)
	ch, h := msgChan(10)
	if _, err := sc2.QueueSubscribe("foo", "q", h, stan.DurableName("dur"), stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch, 2*time.Second); m.Sequence != 3 {
		t.Fatalf("seq %d", m.Sequence)
	}
}
