package e2e

import (
	"os/exec"
	"testing"
	"time"
)

// TestGroupOfThree: kill the active twice in a group of three; each time one
// of the remaining standbys takes over, and the killed members rejoin as
// standbys.
func TestGroupOfThree(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 3})
	const channel = "three"
	w, live, pub := s.startLoad(channel, 200)
	var killed []*Member
	active := s.g.Members[0]
	for round := 0; round < 2; round++ {
		before := pub.AckCount()
		if err := active.Kill(); err != nil {
			t.Fatal(err)
		}
		killed = append(killed, active)
		next, err := s.g.WaitActive(15*time.Second, active)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.WaitAcks(before+200, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %s killed, %s active", round, active.Name(), next.Name())
		active = next
	}
	for _, m := range killed {
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range killed {
		if err := m.WaitState(StateStandby, 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.g.Active(); err != nil || got != active {
		t.Errorf("active after rejoin: %v (%v), want %s", got, err, active.Name())
	}
	s.verify(pub, live, channel, 2)
	s.checkStates(w)
}

// TestStepDown: `stanft ft step-down` makes the active hand over to a standby
// quickly, without waiting a missed heartbeat interval (the group's is 5 s;
// the PubAck gap must stay under maxHandOff); the old active stays up as a
// standby.
func TestStepDown(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 2, extraArgs: handOffArgs})
	const channel = "drill"
	w, live, pub := s.startLoad(channel, 300)
	old := s.g.Members[0]
	before := pub.AckCount()
	at := time.Now()
	cmd := exec.Command(stanftBin, stepDownArgs(s.g)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("stanft %v: %v\n%s", stepDownArgs(s.g), err, out)
	}
	t.Logf("step-down: %s", out)
	next, err := s.g.WaitActive(10*time.Second, old)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitAcks(before+300, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	// The command's own start-up (exec, NATS connect) is part of the time
	// from `at`; the longest gap between PubAcks is the hand-off itself.
	from, to, ok := AckGap(pub.Acks(), at, 15*time.Second)
	if !ok {
		t.Fatal("no PubAck after the step-down")
	}
	gap := to.Sub(from)
	t.Logf("step-down: %s active; PubAck gap %v (%v after the command was started)",
		next.Name(), gap.Round(time.Millisecond), to.Sub(at).Round(time.Millisecond))
	if gap > maxHandOff {
		t.Errorf("step-down hand-off: PubAck gap %v, want < %v (missed interval 5 s)", gap.Round(time.Millisecond), maxHandOff)
	}
	if err := old.WaitState(StateStandby, 10*time.Second); err != nil {
		t.Error(err)
	}
	s.verify(pub, live, channel, 1)
	s.checkStates(w)
}

// stepDownArgs is the command line of the drill command for a group.
func stepDownArgs(g *Group) []string {
	return []string{"ft", "step-down", "--nats", g.NATSURL(), "-cid", g.ClusterID(), "--ft_group", g.FTGroup()}
}
