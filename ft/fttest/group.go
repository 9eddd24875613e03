package fttest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/ft"
)

// GroupOptions tune a Group. The zero value is usable.
type GroupOptions struct {
	// Config adjusts each member's ft.Config (which starts from
	// ft.DefaultConfig with Jitter 0 and the member's ID).
	Config func(*ft.Config)
	// Recovery is how long each OnPromote takes (default 0).
	Recovery time.Duration
	// WriteEvery is how often a serving member writes (default 10ms).
	WriteEvery time.Duration
	// PromoteError, if set, is returned by OnPromote of member id.
	PromoteError func(id string) error
}

// Write is one fenced write of the history: member ID, its epoch, when.
type Write struct {
	ID    string
	Epoch ft.Epoch
	At    time.Time
}

// Group is N electors sharing one MemLock and one Bus, each with a fake
// workload: OnPromote starts a writer that makes a fenced write
// (LockHandle.Write) every WriteEvery until demotion; OnDemote stops it.
// The Group records every successful write, so tests can check that epochs
// never go backwards (two actives never both write). Modelled on raft's
// MakeCluster.
type Group struct {
	t       testing.TB
	Lock    *MemLock
	Bus     *Bus
	Members []*Member
	opts    GroupOptions

	mu      sync.Mutex
	history []Write
}

// Member is one elector of a Group and its fake workload.
type Member struct {
	ID      string
	Elector *ft.Elector
	Lock    *LockHandle
	Beacon  *MemBeacon
	Metrics *RecordingMetrics
	g       *Group

	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	runErr     error
	promotions int
	demotions  []error
	serving    bool
	writerStop chan struct{}
	writerDone chan struct{}
	newActive  []string
}

// NewGroup starts n members called m0…m(n-1). Stop (or the test's
// cleanup) cancels and waits for them.
func NewGroup(t testing.TB, n int, opts GroupOptions) *Group {
	t.Helper()
	if opts.WriteEvery <= 0 {
		opts.WriteEvery = 10 * time.Millisecond
	}
	g := &Group{t: t, Lock: NewMemLock(), Bus: NewBus(), opts: opts}
	for i := range n {
		g.Members = append(g.Members, g.newMember(fmt.Sprintf("m%d", i)))
	}
	for _, m := range g.Members {
		g.start(m)
	}
	t.Cleanup(g.Stop)
	return g
}

// TestLogger returns an hclog logger that writes through t (shown only for
// failing tests, or with -v).
func TestLogger(t testing.TB, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   name,
		Level:  hclog.Debug,
		Output: testWriter{t},
	})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	if n := len(p); n > 0 && p[n-1] == '\n' {
		return p[:n-1]
	}
	return p
}

var _ io.Writer = testWriter{}

func (g *Group) newMember(id string) *Member {
	m := &Member{ID: id, g: g, Lock: g.Lock.Handle(id), Beacon: g.Bus.Beacon(id), Metrics: NewRecordingMetrics()}
	cfg := ft.DefaultConfig()
	cfg.ID = id
	cfg.Jitter = 0
	cfg.Logger = TestLogger(g.t, id)
	cfg.Metrics = m.Metrics
	if g.opts.Config != nil {
		g.opts.Config(&cfg)
	}
	e, err := ft.New(cfg, m.Lock, m.Beacon, ft.Callbacks{
		OnPromote:   m.onPromote,
		OnDemote:    m.onDemote,
		OnNewActive: m.onNewActive,
	})
	if err != nil {
		g.t.Fatalf("fttest: new elector %s: %v", id, err)
	}
	m.Elector = e
	return m
}

func (g *Group) start(m *Member) {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		err := m.Elector.Run(ctx)
		m.mu.Lock()
		m.runErr = err
		m.mu.Unlock()
	}()
}

// Member returns the member called id (nil if none).
func (g *Group) Member(id string) *Member {
	for _, m := range g.Members {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// Active returns the member whose elector is Active, nil if none. It
// fails the test if several are.
func (g *Group) Active() *Member {
	g.t.Helper()
	var act *Member
	for _, m := range g.Members {
		if m.Elector.Status().State == ft.Active {
			if act != nil {
				g.t.Errorf("fttest: two active members: %s and %s", act.ID, m.ID)
			}
			act = m
		}
	}
	return act
}

// Standbys returns the running members in Standby or Acquiring.
func (g *Group) Standbys() []*Member {
	var out []*Member
	for _, m := range g.Members {
		if s := m.Elector.Status().State; s == ft.Standby || s == ft.Acquiring {
			out = append(out, m)
		}
	}
	return out
}

// Partition cuts member id off the bus.
func (g *Group) Partition(id string) { g.Bus.Partition(id) }

// Heal reconnects every member.
func (g *Group) Heal() { g.Bus.Heal() }

// Kill simulates SIGKILL of member id: it vanishes from the bus, the
// "kernel" frees its lock, its workload stops writing, and its elector is
// cancelled (whatever it does afterwards cannot write: the lock is gone).
func (g *Group) Kill(id string) {
	m := g.Member(id)
	g.Bus.Partition(id)
	g.Lock.ExpireIfHeldBy(id)
	m.cancel()
}

// StopMember cancels member id gracefully and waits for its Run to
// return; it returns Run's result.
func (g *Group) StopMember(id string) error {
	m := g.Member(id)
	m.cancel()
	<-m.done
	return m.Err()
}

// Stop cancels every member and waits for them.
func (g *Group) Stop() {
	for _, m := range g.Members {
		m.cancel()
	}
	for _, m := range g.Members {
		<-m.done
		_ = m.Beacon.Close()
	}
}

// History returns the successful writes in order.
func (g *Group) History() []Write {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Write(nil), g.history...)
}

// CheckHistory fails the test if a write of an older epoch follows a write
// of a newer one: i.e. if two actives ever both wrote.
func (g *Group) CheckHistory() {
	g.t.Helper()
	var last Write
	for _, w := range g.History() {
		if w.Epoch < last.Epoch {
			g.t.Errorf("fttest: %s wrote with epoch %d at %v after %s wrote with epoch %d at %v",
				w.ID, w.Epoch, w.At, last.ID, last.Epoch, last.At)
		}
		last = w
	}
}

// Done is closed when the member's Run has returned.
func (m *Member) Done() <-chan struct{} { return m.done }

// Err returns Run's result (nil while running).
func (m *Member) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runErr
}

// Promotions counts OnPromote calls.
func (m *Member) Promotions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.promotions
}

// Demotions returns the reasons passed to OnDemote, in order.
func (m *Member) Demotions() []error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]error(nil), m.demotions...)
}

// Serving reports whether the workload is serving (between a successful
// OnPromote and OnDemote).
func (m *Member) Serving() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.serving
}

// NewActives returns the IDs passed to OnNewActive, in order.
func (m *Member) NewActives() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.newActive...)
}

func (m *Member) onPromote(ctx context.Context, _ ft.Epoch) error {
	m.mu.Lock()
	m.promotions++
	m.mu.Unlock()
	if d := m.g.opts.Recovery; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f := m.g.opts.PromoteError; f != nil {
		if err := f(m.ID); err != nil {
			return err
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	m.mu.Lock()
	m.serving, m.writerStop, m.writerDone = true, stop, done
	m.mu.Unlock()
	go m.writer(stop, done)
	return nil
}

// writer is the fake workload's write loop: a fenced write every
// WriteEvery; it stops at the first refused write (as a store would stop
// serving) or when stopped.
func (m *Member) writer(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(m.g.opts.WriteEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			err := m.Lock.Write(func(e ft.Epoch) {
				m.g.mu.Lock()
				m.g.history = append(m.g.history, Write{ID: m.ID, Epoch: e, At: time.Now()})
				m.g.mu.Unlock()
			})
			if err != nil {
				// What a store's Fence hook does: tell the elector.
				_ = m.Elector.Fence()
				return
			}
		}
	}
}

func (m *Member) onDemote(reason error) {
	m.mu.Lock()
	m.demotions = append(m.demotions, reason)
	m.serving = false
	stop, done := m.writerStop, m.writerDone
	m.writerStop, m.writerDone = nil, nil
	m.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

func (m *Member) onNewActive(id string) {
	m.mu.Lock()
	m.newActive = append(m.newActive, id)
	m.mu.Unlock()
}
