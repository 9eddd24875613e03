package e2e

import (
	"testing"
	"time"
)

// TestKillActiveSlowConsumer: SIGKILL of the active while a durable acks
// each message only after more than its ack wait, so the new active recovers
// many pending, already expired messages (redelivered spread out) that the
// client then acknowledges on its own. Delivery must go on afterwards.
func TestKillActiveSlowConsumer(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 2})
	w := WatchStates(s.g, 20*time.Millisecond)
	const channel = "slow"
	slow := StartSubscriber(t, SubscriberConfig{ClientConfig: s.client("slow"), Channel: channel, Durable: "slow",
		AckWait: time.Second, AckDelay: 1200 * time.Millisecond})
	pub := s.publisher(channel, time.Millisecond)
	if err := pub.WaitAcks(1500, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	old := s.g.Members[0]
	before := pub.AckCount()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.g.WaitActive(15*time.Second, old); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitAcks(before+1500, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	s.verify(pub, slow, channel, 1)
	s.checkStates(w)
}

// TestKillActiveHeldAcks: a durable stops acking for longer than its ack
// wait, the active is killed, and right after the takeover the durable sends
// all its deferred acks at once: the new active recovered those messages as
// pending and expired (spread redelivery), and sees them all acked before its
// spread is over. New messages must then keep flowing to the durable.
//
// It found a server bug, fixed in 510a501: the recovered sub stayed on hold
// for good when the client acked every recovered message before the last
// recovery redelivery pass.
func TestKillActiveHeldAcks(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 2})
	w := WatchStates(s.g, 20*time.Millisecond)
	const channel = "held"
	live := StartSubscriber(t, SubscriberConfig{ClientConfig: s.client("live"), Channel: channel, Durable: "live", AckWait: time.Second})
	pub := s.publisher(channel, time.Millisecond)
	if err := pub.WaitAcks(300, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	live.HoldAcks()
	time.Sleep(1500 * time.Millisecond) // sent records flushed, acks missing, deadlines passed
	old := s.g.Members[0]
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.g.WaitActive(15*time.Second, old); err != nil {
		t.Fatal(err)
	}
	live.ReleaseAcks()
	before := pub.AckCount()
	if err := pub.WaitAcks(before+500, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	s.verify(pub, live, channel, 1)
	s.checkStates(w)
}
