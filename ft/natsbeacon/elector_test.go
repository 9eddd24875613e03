package natsbeacon_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stanft/stanft/ft"
	"github.com/stanft/stanft/ft/filelock"
	"github.com/stanft/stanft/ft/fttest"
	"github.com/stanft/stanft/ft/natsbeacon"
)

// member is a real elector: a filelock on the shared directory, a NATS
// beacon on its own connection, and callbacks that record what happened.
type member struct {
	id   string
	e    *ft.Elector
	lock *filelock.Lock
	done chan struct{}
	stop context.CancelFunc

	mu       sync.Mutex
	err      error
	promoted []ft.Epoch
	demoted  []error
}

func startMember(t testing.TB, id, url, dir string) *member {
	t.Helper()
	lock, err := filelock.New(filelock.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc := connect(t, url)
	b := newBeacon(t, nc)
	m := &member{id: id, lock: lock, done: make(chan struct{})}
	cfg := ft.DefaultConfig()
	cfg.ID = id
	cfg.Logger = fttest.TestLogger(t, id)
	if _, bench := t.(*testing.B); bench {
		cfg.Logger = nil // benchmarks print every log line
	}
	m.e, err = ft.New(cfg, lock, b, ft.Callbacks{
		OnPromote: func(_ context.Context, e ft.Epoch) error {
			m.mu.Lock()
			m.promoted = append(m.promoted, e)
			m.mu.Unlock()
			return nil
		},
		OnDemote: func(reason error) {
			m.mu.Lock()
			m.demoted = append(m.demoted, reason)
			m.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	go func() {
		defer close(m.done)
		err := m.e.Run(ctx)
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
	}()
	t.Cleanup(func() {
		cancel()
		<-m.done
	})
	return m
}

func (m *member) active() bool { return m.e.Status().State == ft.Active }

func (m *member) result(t testing.TB, within time.Duration) error {
	t.Helper()
	select {
	case <-m.done:
	case <-time.After(within):
		t.Fatalf("%s: Run still running after %v", m.id, within)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// waitActive returns the first of ms to become active, and how long it took.
func waitActive(t *testing.T, within time.Duration, ms ...*member) (*member, time.Duration) {
	t.Helper()
	start := time.Now()
	var act *member
	if !eventually(within, func() bool {
		for _, m := range ms {
			if m.active() {
				act = m
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no active member within %v", within)
	}
	return act, time.Since(start)
}

func other(a, b, not *member) *member {
	if a == not {
		return b
	}
	return a
}

// TestRealTakeover runs two electors with real file locks and NATS beacons
// in one process: graceful stop hands over at once; an abruptly closed lock
// descriptor makes the standby take over and the old active fence itself.
func TestRealTakeover(t *testing.T) {
	ns := startNATS(t, 0)
	dir := t.TempDir()
	a := startMember(t, "a", ns.ClientURL(), dir)
	b := startMember(t, "b", ns.ClientURL(), dir)
	first, _ := waitActive(t, 5*time.Second, a, b)
	second := other(a, b, first)
	// Heartbeats flowing: the standby names the active within two
	// heartbeat intervals (1 s by default; the first one may have gone
	// out before the standby subscribed).
	eventually(3*time.Second, func() bool { return second.e.Status().ActiveID == first.id })
	if s := second.e.Status(); s.ActiveID != first.id || s.State == ft.Active {
		t.Fatalf("standby status = %+v", s)
	}

	// Graceful stop: OnDemote, release, notice → the standby takes over.
	first.stop()
	if err := first.result(t, 5*time.Second); err != nil {
		t.Fatalf("graceful Run = %v", err)
	}
	_, took := waitActive(t, 5*time.Second, second)
	t.Logf("take-over after graceful stop: %v", took)
	if took > 2*time.Second { // loose: speed is not measured by tests
		t.Errorf("graceful take-over took %v", took)
	}
	if e := second.e.Status().Epoch; e != 2 {
		t.Fatalf("epoch = %d, want 2", e)
	}

	// A third member joins as standby.
	c := startMember(t, "c", ns.ClientURL(), dir)
	time.Sleep(300 * time.Millisecond)
	if c.active() {
		t.Fatal("newcomer active while the lock is held")
	}

	// Abrupt loss of the active's lock descriptor.
	if err := filelock.CloseLockDescriptorForTest(second.lock.Path()); err != nil {
		t.Skipf("cannot close the descriptor abruptly here: %v", err)
	}
	start := time.Now()
	_, took = waitActive(t, 5*time.Second, c)
	t.Logf("take-over after the lock descriptor closed: %v", took)
	err := second.result(t, 3*time.Second)
	t.Logf("old active stopped after %v: %v", time.Since(start), err)
	if !errors.Is(err, ft.ErrFenced) {
		t.Fatalf("old active Run = %v, want ErrFenced", err)
	}
	if e := c.e.Status().Epoch; e != 3 {
		t.Fatalf("epoch = %d, want 3", e)
	}
	second.mu.Lock()
	p, d := len(second.promoted), len(second.demoted)
	second.mu.Unlock()
	if p != 1 || d != 1 {
		t.Fatalf("old active: %d promotions, %d demotions", p, d)
	}
}

func TestRequestStepDown(t *testing.T) {
	ns := startNATS(t, 0)
	dir := t.TempDir()
	a := startMember(t, "a", ns.ClientURL(), dir)
	b := startMember(t, "b", ns.ClientURL(), dir)
	first, _ := waitActive(t, 5*time.Second, a, b)
	second := other(a, b, first)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := natsbeacon.RequestStepDown(ctx, connect(t, ns.ClientURL()), "test-cluster", "grp")
	if err != nil {
		t.Fatalf("RequestStepDown = %+v, %v", res, err)
	}
	t.Logf("step-down: %+v", res)
	if res.Previous != first.id || res.Next != second.id || res.NextEpoch != res.PreviousEpoch+1 ||
		res.Confirmed <= 0 || res.TookOver < res.Confirmed {
		t.Fatalf("result = %+v", res)
	}
	if !eventually(5*time.Second, second.active) {
		t.Fatal("the other member is not active")
	}
	first.mu.Lock()
	d := first.demoted
	first.mu.Unlock()
	if len(d) != 1 || !errors.Is(d[0], ft.ErrSteppedDown) {
		t.Fatalf("demotions = %v", d)
	}

	// No active at all: the request says so when ctx ends.
	second.stop()
	first.stop()
	<-second.done
	<-first.done
	ctx2, cancel2 := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel2()
	if _, err := natsbeacon.RequestStepDown(ctx2, connect(t, ns.ClientURL()), "test-cluster", "grp"); !errors.Is(err, natsbeacon.ErrNoActive) {
		t.Fatalf("without an active: %v", err)
	}
}
