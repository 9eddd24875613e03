package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFTLogLines: the reference's FT log lines (SPEC §8.4, §8.6, §8.9,
// §7.4), in their order, on real processes: the standby's start line, the
// new active's activation and recovery lines after a SIGTERM of the active,
// and the old active's shutdown line and exit status 143. A standby that
// hears the active's heartbeats does not log the lock line `ft: unable to
// get store lock at this time, going back to standby` (the reference tries
// the lock only after a missed interval without heartbeats, SPEC §8.4);
// TestPauseActive sees it when the active freezes.
func TestFTLogLines(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 2})
	old, next := s.g.Members[0], s.g.Members[1]
	pub := s.publisher("logged", 10*time.Millisecond)
	if err := pub.WaitAcks(5, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	pub.Stop(10 * time.Second)
	// The standby hears the active (several heartbeats).
	if _, err := next.WaitLog(`ft: active member: `, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if n := next.CountLog(`ft: unable to get store lock`); n != 0 {
		t.Errorf("%d lock lines from a standby that hears the active's heartbeats", n)
	}
	mark := next.Mark()
	code, err := old.Stop(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 143 {
		t.Errorf("SIGTERM: exit %d, want 143", code)
	}
	if _, err := old.WaitLog(`Shutting down\.`, 0); err != nil {
		t.Error(err)
	}
	if _, err := next.WaitLogAfter(mark, `Streaming Server is ready`, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := next.WaitState(StateActive, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// In order, each after the previous one.
	checkLogOrder(t, next.Logs(), []string{
		`Starting in standby mode`,
		`Server is active`,
		`Recovering the state\.\.\.`,
		`Recovered 1 channel\(s\)`,
		`Message store is FILE`,
		`Store location: ` + regexp.QuoteMeta(s.g.Dir()),
		`Streaming Server is ready`,
	})
	if strings.Contains(next.Logs(), "Failed to start") {
		t.Errorf("unexpected start failure:\n%s", next.Logs())
	}
}

// checkLogOrder fails t unless each pattern matches a line after the line
// the previous pattern matched.
func checkLogOrder(t *testing.T, logs string, patterns []string) {
	t.Helper()
	lines := strings.Split(logs, "\n")
	i := 0
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		for i < len(lines) && !re.MatchString(lines[i]) {
			i++
		}
		if i == len(lines) {
			t.Errorf("no line matching %q after the previous ones (order: %q)", p, patterns)
			return
		}
		i++
	}
}
