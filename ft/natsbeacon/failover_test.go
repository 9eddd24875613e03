package natsbeacon_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stanft/stanft/ft"
	"github.com/stanft/stanft/ft/filelock"
	"github.com/stanft/stanft/ft/natsbeacon"
)

// Environment of the child mode: the test binary runs one elector (real
// filelock, real NATS beacon) and prints "active" once promoted.
const (
	childURLEnv = "STANFT_FT_CHILD_URL"
	childDirEnv = "STANFT_FT_CHILD_DIR"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(childURLEnv); url != "" {
		os.Exit(childMain(url, os.Getenv(childDirEnv)))
	}
	os.Exit(m.Run())
}

func childMain(url, dir string) int {
	nc, err := nats.Connect(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer nc.Close()
	lock, err := filelock.New(filelock.Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	b, err := natsbeacon.New(natsbeacon.Config{Conn: nc, ClusterID: "test-cluster", Group: "grp"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer b.Close()
	cfg := ft.DefaultConfig()
	cfg.ID = fmt.Sprintf("child-%d", os.Getpid())
	e, err := ft.New(cfg, lock, b, ft.Callbacks{
		OnPromote: func(context.Context, ft.Epoch) error { fmt.Println("active"); return nil },
		OnDemote:  func(error) {},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := e.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChild starts an elector process and waits until it is active.
func startChild(t *testing.T, url, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childURLEnv+"="+url, childDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
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
		s, _ := bufio.NewReader(out).ReadString('\n')
		lines <- strings.TrimSpace(s)
	}()
	select {
	case l := <-lines:
		if l != "active" {
			t.Fatalf("child said %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child not active within 30s")
	}
	return cmd
}

// TestFailoverAfterSIGKILL measures the time from SIGKILL of an active
// process to an in-process standby being active (SPEC D7: ≤ 500ms p99).
func TestFailoverAfterSIGKILL(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	ns := startNATS(t, 0)
	dir := t.TempDir()
	var took []time.Duration
	for i := range rounds {
		child := startChild(t, ns.ClientURL(), dir)
		sb := startMember(t, fmt.Sprintf("standby-%d", i), ns.ClientURL(), dir)
		if !eventually(5*time.Second, func() bool { return strings.HasPrefix(sb.e.Status().ActiveID, "child-") }) {
			t.Fatalf("standby never saw the child's heartbeat: %+v", sb.e.Status())
		}
		start := time.Now()
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for !sb.active() {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("round %d: no take-over within 5s", i)
			}
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(start))
		_ = child.Wait()
		sb.stop()
		if err := sb.result(t, 5*time.Second); err != nil {
			t.Fatalf("round %d: standby Run = %v", i, err)
		}
	}
	slices.Sort(took)
	p := func(q float64) time.Duration { return took[min(len(took)-1, int(q*float64(len(took))))] }
	t.Logf("take-over after SIGKILL over %d rounds: min %v p50 %v p99 %v max %v", len(took), took[0], p(0.5), p(0.99), took[len(took)-1])
	if p(0.99) > 500*time.Millisecond {
		t.Errorf("p99 take-over %v > 500ms", p(0.99))
	}
}
