package drill

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stanft/stanft/internal/testenv"
)

// The stanft binary, built once by TestMain for the drills against a real
// group.
var stanft testenv.Stanft

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithStanft(m, &stanft))
}

// member is one stanft process of a test group.
type member struct {
	cmd     *exec.Cmd
	monitor string
	log     *testenv.SyncBuffer
	done    chan struct{}
}

// testGroup starts a NATS server in the test process and n stanft members on
// one FILE datastore, and waits for exactly one active. Everything is
// stopped in t.Cleanup.
func testGroup(t *testing.T, n int) (natsURL string, members []*member) {
	t.Helper()
	bin := stanft.Path(t)
	natsURL = testenv.StartNATS(t)
	dir := t.TempDir()
	for i := range n {
		port := testenv.FreePort(t)
		m := &member{monitor: fmt.Sprintf("http://127.0.0.1:%d", port), log: &testenv.SyncBuffer{}, done: make(chan struct{})}
		m.cmd = exec.Command(bin, "-cid", "drill-test", "-st", "FILE", "--dir", dir, "--ft_group", "g",
			"-ns", natsURL, "-a", "127.0.0.1", "-m", strconv.Itoa(port))
		m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
		if err := m.cmd.Start(); err != nil {
			t.Fatalf("start member %d: %v", i, err)
		}
		go func() { _ = m.cmd.Wait(); close(m.done) }()
		t.Cleanup(func() {
			_ = m.cmd.Process.Kill()
			<-m.done
			if t.Failed() {
				t.Logf("member %s log:\n%s", m.monitor, m.log.String())
			}
		})
		members = append(members, m)
	}
	urls := monitorURLs(members)
	p := newProber()
	deadline := time.Now().Add(20 * time.Second)
	for len(actives(p.probeAll(t.Context(), urls))) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no single active member: %s", describe(p.probeAll(t.Context(), urls)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return natsURL, members
}

func monitorURLs(ms []*member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.monitor)
	}
	return out
}

func drillConfig(natsURL string, ms []*member) Config {
	cfg := DefaultConfig()
	cfg.NATSURL = natsURL
	cfg.ClusterID = "drill-test"
	cfg.FTGroup = "g"
	cfg.Members = monitorURLs(ms)
	cfg.Warmup = time.Second
	cfg.Settle = time.Second
	cfg.PubAckWait = 2 * time.Second
	cfg.Timeout = time.Minute
	cfg.ProgressInterval = 200 * time.Millisecond
	return cfg
}

// checkFailover checks what every drill must show on a healthy group.
func checkFailover(t *testing.T, r *Report) {
	t.Helper()
	if !r.OK() || r.Lost != 0 {
		t.Errorf("lost %d acknowledged messages: %v", r.Lost, r.LostIDs)
	}
	if r.Acknowledged < 100 || r.Delivered < r.Acknowledged {
		t.Errorf("acknowledged %d, delivered %d", r.Acknowledged, r.Delivered)
	}
	if r.Before.ServerID == "" || r.After.ServerID == "" || r.After.ServerID == r.Before.ServerID {
		t.Errorf("active before %+v, after %+v: want another server", r.Before, r.After)
	}
	if r.Before.Epoch == 0 || r.After.Epoch <= r.Before.Epoch {
		t.Errorf("epoch before %d, after %d: want it to grow", r.Before.Epoch, r.After.Epoch)
	}
	if r.Outage <= 0 || r.Outage > 20*time.Second {
		t.Errorf("outage %v", r.Outage)
	}
	var text bytes.Buffer
	_ = r.WriteText(&text)
	t.Logf("\n%s", text.String())
}

func TestDrillStepDown(t *testing.T) {
	natsURL, ms := testGroup(t, 2)
	var progress testenv.SyncBuffer
	r, err := Run(t.Context(), drillConfig(natsURL, ms), &progress)
	if err != nil {
		t.Fatalf("drill: %v\nprogress:\n%s", err, progress.String())
	}
	checkFailover(t, r)
	if r.StepDownConfirmed <= 0 || r.StepDownTookOver < r.StepDownConfirmed {
		t.Errorf("step-down timings: confirmed %v, took over %v", r.StepDownConfirmed, r.StepDownTookOver)
	}
	if !strings.Contains(progress.String(), "published") {
		t.Errorf("no progress line: %q", progress.String())
	}
}

// progressTrigger calls fn once when a line containing pattern is written.
type progressTrigger struct {
	testenv.SyncBuffer
	pattern string
	once    sync.Once
	fn      func()
}

func (p *progressTrigger) Write(b []byte) (int, error) {
	n, err := p.SyncBuffer.Write(b)
	if strings.Contains(p.SyncBuffer.String(), p.pattern) {
		p.once.Do(func() { go p.fn() })
	}
	return n, err
}

func TestDrillWaitForKill(t *testing.T) {
	natsURL, ms := testGroup(t, 2)
	cfg := drillConfig(natsURL, ms)
	cfg.Mode = ModeWait
	cfg.FTGroup = ""
	killed := make(chan string, 1)
	progress := &progressTrigger{pattern: "now kill", fn: func() {
		// Kill whichever member is active, as the operator would.
		for _, m := range ms {
			if mem := newProber().probe(context.Background(), m.monitor); mem.Active {
				_ = m.cmd.Process.Signal(syscall.SIGKILL)
				killed <- m.monitor
				return
			}
		}
		killed <- ""
	}}
	r, err := Run(t.Context(), cfg, progress)
	if err != nil {
		t.Fatalf("drill: %v\nprogress:\n%s", err, progress.String())
	}
	if k := <-killed; k == "" || k != r.Before.URL || r.After.URL == k {
		t.Errorf("killed %q; active before %s, after %s", k, r.Before.URL, r.After.URL)
	}
	checkFailover(t, r)
}

func TestDrillNoActive(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Mode = ModeWait
	cfg.Members = []string{fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))}
	cfg.Timeout = 10 * time.Second
	r, err := Run(t.Context(), cfg, nil)
	if err == nil || r != nil || !strings.Contains(err.Error(), "exactly one active") {
		t.Errorf("no member answering: report %v, err %v", r, err)
	}
}
