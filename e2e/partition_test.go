package e2e

import (
	"testing"
	"time"
)

// TestPartitionActive: the active is cut off from NATS by its TCP proxy while
// its process, lock and disk stay fine. After the missed interval it stands
// down (SPEC D7), a standby takes over, and when the cut heals the old active
// stays a standby.
func TestPartitionActive(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 2, proxy: true})
	const channel = "cut"
	w, live, pub := s.startLoad(channel, 300)
	old := s.g.Members[0]
	before := pub.AckCount()
	cutAt := time.Now()
	old.Proxy.Block()
	next, err := s.g.WaitActive(15*time.Second, old)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitAcks(before+300, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if d, ok := OutageAfter(pub.Acks(), cutAt, 15*time.Second); ok {
		t.Logf("partition: %s active; publish outage %v", next.Name(), d.Round(time.Millisecond))
	}
	if err := old.WaitState(StateStandby, 10*time.Second); err != nil {
		t.Errorf("cut-off active did not stand down: %v", err)
	}
	old.Proxy.Unblock()
	// Healed: the old active must stay a standby for a while.
	healedUntil := time.Now().Add(2 * time.Second)
	for time.Now().Before(healedUntil) {
		if ok, _ := old.IsActive(); ok {
			t.Fatalf("%s became active again after the cut healed", old.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.verify(pub, live, channel, 1)
	s.checkStates(w)
}

// TestBlackholeActive: the active's path to NATS goes silent (packets
// dropped, no reset), the harder kind of partition: its NATS client notices
// only through its own PINGs. A standby must still take over in bounded time
// (SPEC D7: an active that lost NATS for longer than the missed interval
// stands down), and nothing acknowledged may be lost.
//
// The silent partition is noticed by the FT connection's PINGs (every half
// missed interval, two outstanding), after which the active stands down
// within the missed interval, flushes for at most 500 ms and releases the
// lock: about 3 s from the cut to the first PubAck from the new active.
func TestBlackholeActive(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 2, proxy: true})
	const channel = "silent"
	w, live, pub := s.startLoad(channel, 300)
	old := s.g.Members[0]
	before := pub.AckCount()
	cutAt := time.Now()
	old.Proxy.Blackhole()
	next, err := s.g.WaitActive(30*time.Second, old)
	if err != nil {
		t.Fatalf("no takeover while the active's NATS path is blackholed: %v", err)
	}
	if err := pub.WaitAcks(before+300, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if d, ok := OutageAfter(pub.Acks(), cutAt, 30*time.Second); ok {
		t.Logf("blackhole: %s active; publish outage %v", next.Name(), d.Round(time.Millisecond))
		// Detection by PINGs, stand-down, lock: a few missed intervals.
		if d > 5*time.Second {
			t.Errorf("publish outage %v on a silent partition, want < 5s", d.Round(time.Millisecond))
		}
	}
	if err := old.WaitState(StateStandby, 10*time.Second); err != nil && old.Running() {
		t.Errorf("blackholed active did not stand down: %v", err)
	}
	old.Proxy.Unblock()
	s.verify(pub, live, channel, 1)
	s.checkStates(w)
}
