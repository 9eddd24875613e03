package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// lockFile is the FT lock file in the datastore directory.
const lockFile = "stanft.lock"

// TestLockLost: the lock file is removed or replaced under the active, as
// when an NFS lease is lost. The active must notice (fencing, SPEC D5), stop
// without writing again and exit non-zero; a standby takes over and nothing
// acknowledged is lost.
func TestLockLost(t *testing.T) {
	for _, tc := range []struct {
		name      string
		breakLock func(path string) error
	}{
		{"removed", os.Remove},
		{"replaced", func(path string) error {
			tmp := path + ".new"
			if err := os.WriteFile(tmp, nil, 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, path)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, scenarioOpts{members: 2})
			const channel = "guarded"
			w, live, pub := s.startLoad(channel, 300)
			old := s.g.Members[0]
			path := filepath.Join(s.g.Dir(), lockFile)
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("lock file: %v", err)
			}
			brokenAt := time.Now()
			if err := tc.breakLock(path); err != nil {
				t.Fatal(err)
			}
			// The active checks at least once a second; allow for scheduling.
			code, err := old.Wait(5 * time.Second)
			if err != nil {
				t.Fatalf("the active did not stop after its lock file was %s: %v", tc.name, err)
			}
			if code == 0 {
				t.Errorf("the fenced active exited 0, want non-zero")
			}
			t.Logf("fenced active exited %d, %v after the lock file was %s", code, time.Since(brokenAt).Round(time.Millisecond), tc.name)
			if line, err := old.WaitLog(`\[ERROR\].*(?i)(fenc|lock)`, time.Second); err != nil {
				t.Errorf("no clear log line about the fencing: %v", err)
			} else {
				t.Logf("log: %s", line)
			}
			before := pub.AckCount()
			next, err := s.g.WaitActive(15*time.Second, old)
			if err != nil {
				t.Fatal(err)
			}
			if err := pub.WaitAcks(before+300, 15*time.Second); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s took over", next.Name())
			// Restarted by its supervisor, the fenced member is a standby.
			if err := old.Start(); err != nil {
				t.Fatal(err)
			}
			if err := old.WaitState(StateStandby, 15*time.Second); err != nil {
				t.Fatal(err)
			}
			s.verify(pub, live, channel, 1)
			s.checkStates(w)
		})
	}
}

// TestFrozenActiveLosesLock is the split-brain case fencing exists for: the
// active is frozen (SIGSTOP) and its lock is lost meanwhile (the lock file is
// removed, as when an NFS lease expires), so a standby takes the lock, bumps
// the epoch and serves. When the old active is resumed it still has
// publishes queued in its socket; it must not write any of them (it exits
// non-zero), and the datastore, recovered afresh from disk, must hold every
// acknowledged message once per sequence.
func TestFrozenActiveLosesLock(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 2})
	const channel = "split"
	w, live, pub := s.startLoad(channel, 300)
	old, standby := s.g.Members[0], s.g.Members[1]
	if err := old.Pause(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // publishes queue up for the frozen active
	if err := os.Remove(filepath.Join(s.g.Dir(), lockFile)); err != nil {
		t.Fatal(err)
	}
	before := pub.AckCount()
	next, err := s.g.WaitActive(15*time.Second, old)
	if err != nil {
		t.Fatal(err)
	}
	if next != standby {
		t.Fatalf("active %s, want %s", next.Name(), standby.Name())
	}
	if err := pub.WaitAcks(before+300, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	resumedAt := time.Now()
	if err := old.Resume(); err != nil {
		t.Fatal(err)
	}
	code, err := old.Wait(5 * time.Second)
	if err != nil {
		t.Fatalf("the resumed old active kept running without its lock: %v", err)
	}
	if code == 0 {
		t.Errorf("the fenced old active exited 0, want non-zero")
	}
	stopped := time.Since(resumedAt)
	t.Logf("resumed old active exited %d after %v", code, stopped.Round(time.Millisecond))
	// Once running again it must stop at once (SPEC D5): its answers until
	// then are excused from the single-active check, not later ones.
	const stopBound = time.Second
	if stopped > stopBound {
		t.Errorf("the resumed old active took %v to stop, want under %v", stopped, stopBound)
	}
	w.Excuse(old.Index, resumedAt.Add(stopBound))
	// Until it stops it may also deliver what it had in hand when frozen.
	s.excused = append(s.excused, Window{From: resumedAt, To: resumedAt.Add(stopBound)})
	if err := pub.WaitAcks(pub.AckCount()+200, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	s.verify(pub, live, channel, 1)
	s.checkStates(w)

	// What is on disk, recovered by a fresh process, is consistent too.
	if _, err := standby.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.g.WaitActive(15*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	last := s.lastSeq(channel)
	stored, err := ReadChannel(s.client("rereader"), channel, last, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r, err := CheckNoAckedLoss(History{Acks: pub.Acks(), Stored: stored})
	if err != nil {
		t.Errorf("after recovery from disk: %v", err)
	}
	t.Logf("after recovery from disk: %d sequences, %d acked, duplicated %d", r.StoredSeqs, r.Acked, r.Duplicated)
}
