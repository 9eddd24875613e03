//go:build unix

package filelock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stanft/stanft/ft"
)

// childDirEnv makes the test binary act as a lock-holding child process.
const childDirEnv = "STANFT_FILELOCK_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(childMain(dir))
	}
	os.Exit(m.Run())
}

// childMain takes the lock, prints "epoch N", and holds the lock until its
// stdin is closed, then releases it. The parent kills it to simulate a crash.
func childMain(dir string) int {
	l, err := New(Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	e, err := l.TryAcquire(ctx)
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 3
	}
	fmt.Printf("epoch %d\n", e)
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := l.Release(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	return 0
}

func newLock(t *testing.T, dir string) *Lock {
	t.Helper()
	l, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	return l
}

func mustAcquire(t *testing.T, l *Lock) ft.Epoch {
	t.Helper()
	e, err := l.TryAcquire(context.Background())
	if err != nil {
		t.Fatalf("TryAcquire: %v", err)
	}
	return e
}

func wantLost(t *testing.T, l *Lock) {
	t.Helper()
	err := l.Check(context.Background())
	if !errors.Is(err, ft.ErrLockLost) {
		t.Fatalf("Check = %v, want ErrLockLost", err)
	}
	if ferr := l.Fence(); !errors.Is(ferr, ft.ErrLockLost) {
		t.Fatalf("Fence = %v, want ErrLockLost", ferr)
	}
}

func TestAcquireCheckReleaseEpochs(t *testing.T) {
	dir := t.TempDir()
	l := newLock(t, dir)
	ctx := context.Background()
	for want := ft.Epoch(1); want <= 3; want++ {
		e := mustAcquire(t, l)
		if e != want {
			t.Fatalf("epoch = %d, want %d", e, want)
		}
		if got := l.Epoch(); got != want {
			t.Fatalf("Epoch() = %d, want %d", got, want)
		}
		if disk, err := ReadEpoch(dir); err != nil || disk != want {
			t.Fatalf("ReadEpoch = %d, %v; want %d", disk, err, want)
		}
		if err := l.Check(ctx); err != nil {
			t.Fatalf("Check while held: %v", err)
		}
		// A second TryAcquire while held returns the same epoch.
		if again := mustAcquire(t, l); again != want {
			t.Fatalf("re-acquire epoch = %d, want %d", again, want)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		wantLost(t, l)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release when not held: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, epochTmpName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary epoch file left behind: %v", err)
	}
	if got := l.Describe(); got != "flock "+filepath.Join(dir, LockFileName) {
		t.Fatalf("Describe = %q", got)
	}
}

func TestTwoInstancesInOneProcessExclude(t *testing.T) {
	dir := t.TempDir()
	a, b := newLock(t, dir), newLock(t, dir)
	ctx := context.Background()
	ea := mustAcquire(t, a)
	if _, err := b.TryAcquire(ctx); !errors.Is(err, ft.ErrLockHeld) {
		t.Fatalf("second instance TryAcquire = %v, want ErrLockHeld", err)
	}
	if err := a.Check(ctx); err != nil {
		t.Fatalf("holder Check after contender's attempt: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	eb := mustAcquire(t, b)
	if eb != ea+1 {
		t.Fatalf("epoch = %d, want %d", eb, ea+1)
	}
	if _, err := a.TryAcquire(ctx); !errors.Is(err, ft.ErrLockHeld) {
		t.Fatalf("first instance TryAcquire = %v, want ErrLockHeld", err)
	}
	wantLost(t, a)
}

func TestCheckDetectsDeletedLockFile(t *testing.T) {
	dir := t.TempDir()
	a, b := newLock(t, dir), newLock(t, dir)
	mustAcquire(t, a)
	if err := os.Remove(filepath.Join(dir, LockFileName)); err != nil {
		t.Fatal(err)
	}
	wantLost(t, a)
	// The deleted inode no longer protects anything: a newcomer locks a new
	// file, and the old holder stays fenced.
	if e := mustAcquire(t, b); e != 2 {
		t.Fatalf("epoch = %d, want 2", e)
	}
	wantLost(t, a)
	if err := b.Check(context.Background()); err != nil {
		t.Fatalf("new holder Check: %v", err)
	}
}

func TestCheckDetectsReplacedLockFile(t *testing.T) {
	dir := t.TempDir()
	a := newLock(t, dir)
	mustAcquire(t, a)
	repl := filepath.Join(dir, "other")
	if err := os.WriteFile(repl, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(repl, filepath.Join(dir, LockFileName)); err != nil {
		t.Fatal(err)
	}
	wantLost(t, a)
}

func TestCheckDetectsNewerEpoch(t *testing.T) {
	dir := t.TempDir()
	a := newLock(t, dir)
	mustAcquire(t, a)
	if err := writeEpoch(dir, 7); err != nil {
		t.Fatal(err)
	}
	wantLost(t, a)
	if err := os.Remove(filepath.Join(dir, EpochFileName)); err != nil {
		t.Fatal(err)
	}
	if err := a.Fence(); err == nil {
		t.Fatal("Fence succeeded with the epoch file deleted")
	}
}

// TestCheckDetectsClosedDescriptor closes the lock descriptor behind the
// Lock's back (dup2 of /dev/null over it, so the number stays valid):
// the kernel drops the flock, and Check must notice.
func TestCheckDetectsClosedDescriptor(t *testing.T) {
	dir := t.TempDir()
	a, b := newLock(t, dir), newLock(t, dir)
	mustAcquire(t, a)
	if err := CloseLockDescriptorForTest(a.Path()); err != nil {
		t.Skipf("cannot close the descriptor abruptly here: %v", err)
	}
	wantLost(t, a)
	if e := mustAcquire(t, b); e != 2 {
		t.Fatalf("epoch = %d, want 2", e)
	}
	wantLost(t, a)
	if err := a.Release(context.Background()); err != nil {
		t.Logf("Release after abrupt close: %v", err)
	}
}

func TestFatalErrorsNameThePath(t *testing.T) {
	ctx := context.Background()
	t.Run("missing dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		l := newLock(t, dir)
		_, err := l.TryAcquire(ctx)
		if !errors.Is(err, ft.ErrLockFatal) || errors.Is(err, ft.ErrLockHeld) {
			t.Fatalf("err = %v, want ErrLockFatal", err)
		}
		if !strings.Contains(err.Error(), dir) {
			t.Fatalf("error %q does not name %s", err, dir)
		}
	})
	t.Run("not a dir", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := newLock(t, file).TryAcquire(ctx)
		if !errors.Is(err, ft.ErrLockFatal) {
			t.Fatalf("err = %v, want ErrLockFatal", err)
		}
	})
	t.Run("permission", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions")
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		_, err := newLock(t, dir).TryAcquire(ctx)
		if !errors.Is(err, ft.ErrLockFatal) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("err = %v, want ErrLockFatal naming %s", err, dir)
		}
	})
	t.Run("corrupt epoch", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, EpochFileName), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		l := newLock(t, dir)
		_, err := l.TryAcquire(ctx)
		if !errors.Is(err, ft.ErrLockFatal) || !errors.Is(err, ErrCorruptEpoch) {
			t.Fatalf("err = %v, want ErrLockFatal and ErrCorruptEpoch", err)
		}
		// The failed attempt must not keep the lock.
		if _, err := newLock(t, dir).TryAcquire(ctx); errors.Is(err, ft.ErrLockHeld) {
			t.Fatalf("lock still held after a failed acquire: %v", err)
		}
	})
	t.Run("config", func(t *testing.T) {
		if _, err := New(Config{}); err == nil {
			t.Fatal("New accepted an empty Dir")
		}
	})
}

func TestReadEpoch(t *testing.T) {
	dir := t.TempDir()
	if e, err := ReadEpoch(dir); e != 0 || err != nil {
		t.Fatalf("missing file: %d, %v", e, err)
	}
	for _, tc := range []struct {
		content string
		want    ft.Epoch
		ok      bool
	}{
		{"1\n", 1, true},
		{"18446744073709551615\n", 18446744073709551615, true},
		{"1", 0, false},
		{"", 0, false},
		{"\n", 0, false},
		{"+1\n", 0, false},
		{"-1\n", 0, false},
		{"1 \n", 0, false},
		{"1\n\n", 0, false},
		{"18446744073709551616\n", 0, false},
		{strings.Repeat("1", 30) + "\n", 0, false},
	} {
		if err := os.WriteFile(filepath.Join(dir, EpochFileName), []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := ReadEpoch(dir)
		if tc.ok && (err != nil || e != tc.want) {
			t.Errorf("%q: %d, %v; want %d", tc.content, e, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrCorruptEpoch) {
			t.Errorf("%q: %d, %v; want ErrCorruptEpoch", tc.content, e, err)
		}
	}
}

func TestEpochSurvivesStaleTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	// A crash between writing the temporary file and the rename.
	if err := os.WriteFile(filepath.Join(dir, epochTmpName), []byte("99"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeEpoch(dir, 4); err != nil {
		t.Fatal(err)
	}
	if e := mustAcquire(t, newLock(t, dir)); e != 5 {
		t.Fatalf("epoch = %d, want 5", e)
	}
}

// startChild runs this test binary as a process that takes the lock in dir
// and holds it until its stdin closes.
func startChild(t *testing.T, dir string) (*exec.Cmd, io.WriteCloser, ft.Epoch) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- s
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		n, ok := strings.CutPrefix(strings.TrimSpace(line), "epoch ")
		if !ok {
			t.Fatalf("child: %q", line)
		}
		e, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			t.Fatalf("child: %q: %v", line, err)
		}
		return cmd, stdin, ft.Epoch(e)
	case <-time.After(30 * time.Second):
		t.Fatal("child did not report the lock within 30s")
	}
	return nil, nil, 0
}

// acquireWithin polls TryAcquire until it succeeds or d elapses.
func acquireWithin(t *testing.T, l *Lock, d time.Duration) ft.Epoch {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		e, err := l.TryAcquire(context.Background())
		if err == nil {
			return e
		}
		if !errors.Is(err, ft.ErrLockHeld) {
			t.Fatalf("TryAcquire: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock not acquired within %s", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	t.Run("killed holder", func(t *testing.T) {
		dir := t.TempDir()
		cmd, _, ce := startChild(t, dir)
		l := newLock(t, dir)
		if _, err := l.TryAcquire(ctx); !errors.Is(err, ft.ErrLockHeld) {
			t.Fatalf("TryAcquire while child holds = %v, want ErrLockHeld", err)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if e := acquireWithin(t, l, 5*time.Second); e != ce+1 {
			t.Fatalf("epoch = %d, want %d", e, ce+1)
		}
	})
	t.Run("graceful holder and back", func(t *testing.T) {
		dir := t.TempDir()
		l := newLock(t, dir)
		e1 := mustAcquire(t, l)
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		cmd, stdin, ce := startChild(t, dir)
		if ce != e1+1 {
			t.Fatalf("child epoch = %d, want %d", ce, e1+1)
		}
		if _, err := l.TryAcquire(ctx); !errors.Is(err, ft.ErrLockHeld) {
			t.Fatalf("TryAcquire while child holds = %v, want ErrLockHeld", err)
		}
		if err := stdin.Close(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
		if e := mustAcquire(t, l); e != ce+1 {
			t.Fatalf("epoch = %d, want %d", e, ce+1)
		}
	})
}

func BenchmarkFence(b *testing.B) {
	l, err := New(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.TryAcquire(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer l.Release(context.Background())
	for b.Loop() {
		if err := l.Fence(); err != nil {
			b.Fatal(err)
		}
	}
}
