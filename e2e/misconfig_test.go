package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stanft/stanft/ft/filelock"
	"github.com/stanft/stanft/internal/testenv"
)

// TestClusterIDMismatchAtTakeover: a member of another cluster ID stands by
// on a datastore that is still empty (the lock is held by the test), the
// datastore then gets another cluster's state, and the lock is freed: the
// member wins it, finds the mismatch during recovery and exits 1 with the
// reference's line, 'Failed to start: cluster ID "<cfg>" does not match
// recovered value of "<stored>"' (SPEC §8.6 step 1, §7.4, §10.4).
func TestClusterIDMismatchAtTakeover(t *testing.T) {
	requireStanft(t)
	cid := clusterIDFor(t)
	// Another cluster's datastore: a one-member group run once.
	other := NewGroup(t, GroupConfig{Bin: stanftBin, NATSURL: sharedURL, Members: 1, ClusterID: cid + "-other"})
	if err := other.StartMember(other.Members[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := other.WaitActive(15*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if code, err := other.Members[0].Stop(15 * time.Second); err != nil || code != 143 {
		t.Fatalf("stopping the other cluster's member: exit %d, %v", code, err)
	}

	g := NewGroup(t, GroupConfig{Bin: stanftBin, NATSURL: sharedURL, Members: 1, ClusterID: cid})
	lock, err := filelock.New(filelock.Config{Dir: g.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.TryAcquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	m := g.Members[0]
	if err := g.StartMember(m); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitState(StateStandby, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	copyDatastore(t, other.Dir(), g.Dir())
	if err := lock.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, err := m.Wait(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := `\] stanft: Failed to start: ` + regexp.QuoteMeta(`cluster ID "`+cid+`" does not match recovered value of "`+cid+`-other"`) + `$`
	if _, err := m.WaitLog(want, 0); err != nil {
		t.Errorf("no line matching %q: %v", want, err)
	}
}

// copyDatastore copies the datastore files of src into dst, except the FT
// lock and epoch files.
func copyDatastore(t *testing.T, src, dst string) {
	t.Helper()
	tmp := t.TempDir()
	testenv.CopyDir(t, src, tmp)
	for _, f := range []string{filelock.LockFileName, filelock.EpochFileName} {
		if err := os.Remove(filepath.Join(tmp, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	testenv.CopyDir(t, tmp, dst)
}

// TestStandbyDatastoreNotUsable: a member (run as an unprivileged user)
// whose datastore directory it cannot write, or cannot even read, does not
// exit: it stands by (FT_STANDBY, isFTActive 204), logs the reference's
// fatal lock line and keeps trying every missed interval (SPEC §8.4 step 2,
// §8.5); once the permissions are fixed it takes over.
func TestStandbyDatastoreNotUsable(t *testing.T) {
	requireStanft(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run stanft as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv")
	}
	for _, tc := range []struct {
		name string
		mode os.FileMode
	}{
		{"unwritable", 0o555},
		{"unreadable", 0o700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A tree the unprivileged user can traverse: t.TempDir and the
			// binary's directory are 0700.
			base, err := os.MkdirTemp("", "stanft-e2e-perm-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(base) })
			if err := os.Chmod(base, 0o755); err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(base, "stanft")
			copyFile(t, stanftBin, bin, 0o755)
			dir := filepath.Join(base, "data")
			if err := os.Mkdir(dir, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.mode); err != nil { // umask
				t.Fatal(err)
			}
			cid := clusterIDFor(t)
			port := FreePort(t)
			p := StartProcess(t, "stanft-nobody", setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin,
				"-st", "FILE", "--dir", dir, "--ft_group", "e2e", "-cid", cid,
				"-ns", sharedURL, "-a", "127.0.0.1", "-m", strconv.Itoa(port))
			m := &Member{Process: p, MonitorPort: port, http: &http.Client{Timeout: 500 * time.Millisecond}}
			if err := m.WaitState(StateStandby, 15*time.Second); err != nil {
				t.Fatal(err)
			}
			line := `ft: error attempting to get the store lock: ft: fatal error getting the store lock: .*permission denied`
			if _, err := p.WaitLog(line, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			// Still there, still standing by, a missed interval later.
			time.Sleep(1500 * time.Millisecond)
			if st, err := m.State(); err != nil || st != StateStandby {
				t.Fatalf("state %q, %v; want %s", st, err, StateStandby)
			}
			if ok, err := m.IsActive(); err != nil || ok {
				t.Fatalf("isFTActive: %v, %v; want 204", ok, err)
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := m.WaitState(StateActive, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if code, err := p.Stop(15 * time.Second); err != nil || code != 143 {
				t.Errorf("SIGTERM: exit %d, %v; want 143", code, err)
			}
		})
	}
}
