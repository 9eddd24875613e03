package e2e

import (
	"testing"
	"time"
)

// TestPauseActive: SIGSTOP of the active. While it is frozen it still holds
// the lock, so no standby may become active (checked for more than 3 s), and
// the standby logs the reference's lock line.
// After SIGCONT there is still one writer: the old active carries on alone or
// stands down, and the store holds every acknowledged message exactly once
// per sequence.
func TestPauseActive(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 2})
	const channel = "frozen"
	w, live, pub := s.startLoad(channel, 300)
	old, standby := s.g.Members[0], s.g.Members[1]
	mark := standby.Mark()
	if err := old.Pause(); err != nil {
		t.Fatal(err)
	}
	frozenUntil := time.Now().Add(3500 * time.Millisecond)
	for time.Now().Before(frozenUntil) {
		if ok, _ := standby.IsActive(); ok {
			_ = old.Resume()
			t.Fatalf("%s became active while %s was frozen holding the lock", standby.Name(), old.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Heartbeats missing, lock held: the reference's lock line (SPEC §8.4).
	if _, err := standby.WaitLogAfter(mark, `ft: unable to get store lock at this time, going back to standby`, 0); err != nil {
		t.Error(err)
	}
	before := pub.AckCount()
	if err := old.Resume(); err != nil {
		t.Fatal(err)
	}
	active, err := s.g.WaitActive(15*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitAcks(before+300, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("after SIGCONT %s is active", active.Name())
	s.verify(pub, live, channel, 1)
	s.checkStates(w)
}
