package e2e

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Built once per run by TestMain.
var (
	stanftBin string // the stanft binary
	stanftErr error  // why stanftBin could not be built
	natsdBin  string // the plain NATS server of e2e/internal/natsd
	sharedURL string // a NATS server process shared by the tests
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "stanft-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	stanftBin = filepath.Join(dir, "stanft")
	natsdBin = filepath.Join(dir, "natsd")
	if err := goBuild(natsdBin, "github.com/stanft/stanft/e2e/internal/natsd"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A stanft that does not build fails the tests that need it, not the
	// framework's own tests.
	stanftErr = goBuild(stanftBin, "github.com/stanft/stanft/cmd/stanft")
	ns, url, err := startNATSProcess(natsdBin, filepath.Join(dir, "natsd.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	sharedURL = url
	defer func() {
		_ = ns.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = ns.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = ns.Process.Kill()
			<-done
		}
	}()
	return m.Run()
}

// goBuild builds a static binary of pkg at out.
func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("e2e: go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// requireStanft fails the test if the stanft binary could not be built.
func requireStanft(t *testing.T) {
	t.Helper()
	if stanftErr != nil {
		t.Fatal(stanftErr)
	}
}

// startNATSProcess starts natsd on a free port and waits until it is ready.
func startNATSProcess(bin, logPath string) (*exec.Cmd, string, error) {
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, "", err
		}
		f, err := os.Create(logPath)
		if err != nil {
			return nil, "", fmt.Errorf("natsd log: %w", err)
		}
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			f.Close()
			return nil, "", fmt.Errorf("start natsd: %w", err)
		}
		ready := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			b, _ := os.ReadFile(logPath)
			if strings.Contains(string(b), "natsd: ready") {
				ready = true
				break
			}
			if cmd.ProcessState != nil {
				break
			}
		}
		f.Close()
		if ready {
			return cmd, fmt.Sprintf("nats://127.0.0.1:%d", port), nil
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	return nil, "", fmt.Errorf("natsd did not start")
}

// StartNATS starts a NATS server process of its own for one test; it is
// stopped in t.Cleanup. Returns its URL.
func StartNATS(t *testing.T) (*Process, string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		port := FreePort(t)
		p := StartProcess(t, "natsd", natsdBin, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
		if _, err := p.WaitLog("natsd: ready", 10*time.Second); err == nil {
			return p, fmt.Sprintf("nats://127.0.0.1:%d", port)
		} else if attempt == 2 || p.Running() {
			t.Fatal(err)
		}
		// The port was taken meanwhile: try another one.
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
