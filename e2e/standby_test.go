package e2e

import (
	"regexp"
	"testing"
	"time"
)

// TestStandbyLosesNATS: a standby cut off from NATS (SPEC §8.7) logs the
// reference's connection lines for its FT connection, keeps answering its
// monitoring as FT_STANDBY, never takes over while the active holds the
// lock, and logs the reconnection when the cut heals (SPEC §8.9).
func TestStandbyLosesNATS(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 2, proxy: true})
	active, standby := s.g.Members[0], s.g.Members[1]
	conn := regexp.QuoteMeta(`connection "_NSS-` + s.cid + `-ft"`)
	// Standing by: its FT connection exists.
	if _, err := standby.WaitLog(`Starting in standby mode`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	mark := standby.Mark()
	standby.Proxy.Block()
	if _, err := standby.WaitLogAfter(mark, conn+` has been disconnected: `, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(3 * time.Second)
	for time.Now().Before(until) {
		if st, err := standby.State(); err != nil || st != StateStandby {
			t.Fatalf("cut-off standby: state %q, %v; want %s", st, err, StateStandby)
		}
		if ok, err := active.IsActive(); err != nil || !ok {
			t.Fatalf("the active is not active any more (%v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mark = standby.Mark()
	standby.Proxy.Unblock()
	if _, err := standby.WaitLogAfter(mark, conn+` reconnected to NATS Server at "nats://127\.0\.0\.1:\d+"`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, err := standby.State(); err != nil || st != StateStandby {
		t.Fatalf("healed standby: state %q, %v", st, err)
	}
}
