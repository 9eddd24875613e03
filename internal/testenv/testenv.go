// Package testenv is the test harness shared by the packages whose tests run
// stanft against real parts: free loopback ports, an embedded NATS server,
// the stanft binary and a goroutine-safe log sink. It imports no stanft
// package, so any test may use it without an import cycle.
package testenv

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartNATS runs an embedded NATS server on a random loopback port, shut
// down at the end of the test, and returns its client URL.
func StartNATS(t testing.TB) string {
	t.Helper()
	opts := &natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatalf("testenv: nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatalf("testenv: nats server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns.ClientURL()
}

// BuildStanft builds a static stanft binary into dir and returns its path.
// It is meant for TestMain, which builds once for all tests of a package.
func BuildStanft(dir string) (string, error) {
	bin := filepath.Join(dir, "stanft")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/stanft/stanft/cmd/stanft")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return bin, fmt.Errorf("go build ./cmd/stanft: %w\n%s", err, out)
	}
	return bin, nil
}

// Stanft is the stanft binary RunWithStanft built for a package's tests.
type Stanft struct {
	path string
	err  error
}

// Path returns the binary's path, or fails the test if it did not build.
func (s *Stanft) Path(t testing.TB) string {
	t.Helper()
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.path
}

// RunWithStanft is the body of a TestMain: it builds the stanft binary into
// s, runs the tests and removes the binary, and returns the exit code. A
// stanft that does not build fails only the tests that call s.Path.
func RunWithStanft(m *testing.M, s *Stanft) int {
	dir, err := os.MkdirTemp("", "stanft-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	s.path, s.err = BuildStanft(dir)
	return m.Run()
}

// SyncBuffer is a goroutine-safe log sink, for a process's output.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitLine waits up to timeout for a line that match accepts and reports
// whether one was written.
func (b *SyncBuffer) WaitLine(timeout time.Duration, match func(line string) bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range strings.Split(b.String(), "\n") {
			if match(l) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Contains matches lines holding sub (for WaitLine).
func Contains(sub string) func(string) bool {
	return func(l string) bool { return strings.Contains(l, sub) }
}

// CopyDir copies the directory tree src into dst (created as needed): a
// datastore as it is on disk now, as a kill -9 would leave it.
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o640)
	})
	if err != nil {
		t.Fatalf("testenv: copy %s to %s: %v", src, dst, err)
	}
}
