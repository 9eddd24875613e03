package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"

	"github.com/stanft/stanft/store"
)

// Server states shown by serverz (SPEC §8.2).
const (
	StateStandalone = "STANDALONE"
	StateStandby    = "FT_STANDBY"
	StateActive     = "FT_ACTIVE"
	StateFailed     = "FAILED"
	StateShutdown   = "SHUTDOWN"
)

// Server is the STAN protocol engine. Create it with New, start serving with
// Activate, stop serving with Deactivate and release it with Close.
type Server struct {
	cfg     Config
	log     hclog.Logger
	trace   bool // log.IsTrace(): the per-message protocol trace of -SV
	debug   bool // log.IsDebug(): the subscription lifecycle lines of -SD
	metrics Metrics
	start   time.Time
	state   atomic.Value // string

	lifeMu sync.Mutex // serialises Activate, Deactivate, Close, SetStore
	st     store.Store
	closed bool
	conns  *conns

	// runMu guards running; callbacks and timers enter only while running,
	// so Deactivate can wait for them (wg) after clearing it.
	runMu   sync.RWMutex
	running bool
	wg      sync.WaitGroup
	ctx     context.Context // cancelled by Deactivate
	cancel  context.CancelFunc

	// mu guards the maps below and the registry of the active run.
	// Lock order: mu, then channel.mu, then client.mu.
	mu         sync.RWMutex
	info       store.ServerInfo
	clients    map[string]*client
	byConnID   map[string]*client
	channels   map[string]*channel
	lowerNames map[string]string
	// deleting holds the names of channels an inactivity deletion is
	// removing from the store: lookups of them fail (SPEC §7.5).
	deleting   map[string]struct{}
	probing    map[string]bool // client IDs with a duplicate probe in progress
	limits     store.Limits
	clientsGen atomic.Uint64 // bumped whenever a client is removed
	fatal      atomic.Bool   // OnFatal was called in this activation
	pubCheck   pubCheck

	connectMu sync.Mutex // serialises connect requests (SPEC §2.2)
	io        *ioLoop
	stats     stats
}

type stats struct {
	inMsgs, inBytes, outMsgs, outBytes atomic.Int64
}

// New validates cfg and returns an inactive Server using st. It does no
// network or store I/O.
func New(cfg Config, st store.Store) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidConfig)
	}
	cfg.fillDefaults()
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger.Named("server"),
		metrics: cfg.Metrics,
		start:   time.Now(),
		st:      st,
	}
	s.trace = s.log.IsTrace()
	s.debug = s.log.IsDebug()
	// STANDALONE until the FT setup says otherwise (SPEC §8.2).
	s.state.Store(StateStandalone)
	s.resetState()
	return s, nil
}

// ServerID returns the server's ID (Config.ServerID or a generated NUID).
func (s *Server) ServerID() string { return s.cfg.ServerID }

// SetState sets the state shown in serverz: one of StateStandalone,
// StateStandby, StateActive, StateFailed, StateShutdown.
func (s *Server) SetState(state string) { s.state.Store(state) }

// State returns the state last set with SetState.
func (s *Server) State() string { return s.state.Load().(string) }

// SetStore replaces the store used by the next Activate. It fails while the
// server is active. Use it to serve again after Deactivate, since the
// caller closes the store it had given.
func (s *Server) SetStore(st store.Store) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.isRunning() {
		return ErrActive
	}
	if st == nil {
		return fmt.Errorf("%w: nil store", ErrInvalidConfig)
	}
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
	return nil
}

func (s *Server) resetState() {
	s.mu.Lock()
	s.info = store.ServerInfo{}
	s.clients = make(map[string]*client)
	s.byConnID = make(map[string]*client)
	s.channels = make(map[string]*channel)
	s.lowerNames = make(map[string]string)
	s.deleting = make(map[string]struct{})
	s.probing = make(map[string]bool)
	s.mu.Unlock()
	s.clientsGen.Add(1)
}

// Activate connects to NATS, checks that no other standalone server uses
// the cluster ID (unless FT), recovers the store, and subscribes the STAN
// subjects. It returns once the server serves clients.
func (s *Server) Activate(ctx context.Context) (err error) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.isRunning() {
		return ErrActive
	}
	if s.conns == nil {
		c, err := s.connect(ctx)
		if err != nil {
			return err
		}
		s.conns = c
	}
	if !s.cfg.FT {
		if err := s.probeStandalone(ctx); err != nil {
			return err
		}
	}
	s.resetState()
	s.fatal.Store(false)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.runMu.Lock()
	s.running = true
	s.runMu.Unlock()
	defer func() {
		if err != nil {
			s.deactivate()
		}
	}()
	// The io loop runs before recovery: recovered channels arm inactivity
	// timers whose deletions go through it.
	s.io = newIOLoop(s)
	s.log.Info("Recovering the state...")
	if err := s.recover(ctx); err != nil {
		return err
	}
	if err := s.subscribeAll(); err != nil {
		return err
	}
	s.log.Info(fmt.Sprintf("Message store is %s", s.st.Type()))
	if s.cfg.StoreLocation != "" {
		s.log.Info(fmt.Sprintf("Store location: %s", s.cfg.StoreLocation))
	}
	s.logLimits()
	s.log.Info("Streaming Server is ready")
	return nil
}

// Deactivate stops serving at once: it unsubscribes the STAN subjects,
// stops timers and goroutines, stores and acknowledges (or drops without
// ack) the publishes already received, and flushes the store. It does not
// close the store. It is safe to call when not active.
func (s *Server) Deactivate(ctx context.Context) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.deactivate()
}

func (s *Server) deactivate() error {
	s.runMu.Lock()
	was := s.running
	s.running = false
	s.runMu.Unlock()
	if !was {
		return nil
	}
	if s.conns != nil {
		s.conns.unsubscribeAll()
	}
	s.cancel()
	// Wait for NATS callbacks and timers that entered before running was
	// cleared; after this no callback feeds the io loop.
	s.wg.Wait()
	if s.io != nil {
		s.io.stop()
		s.io = nil
	}
	var errs []error
	s.mu.RLock()
	chans := make([]*channel, 0, len(s.channels))
	for _, c := range s.channels {
		chans = append(chans, c)
	}
	clients := make([]*client, 0, len(s.clients))
	for _, cl := range s.clients {
		clients = append(clients, cl)
	}
	s.mu.RUnlock()
	for _, cl := range clients {
		cl.stopHB()
	}
	for _, c := range chans {
		c.mu.Lock()
		c.stopTimers()
		for _, sb := range c.acks {
			if sb.ackSub != nil {
				_ = sb.ackSub.Unsubscribe()
				sb.ackSub = nil
			}
		}
		if err := c.msgs.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("server: flush channel %q: %w", c.name, err))
		}
		if err := c.subStore.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("server: flush subscriptions of %q: %w", c.name, err))
		}
		c.mu.Unlock()
	}
	if s.conns != nil {
		s.conns.flush()
	}
	// A standby shows empty lists (SPEC §9, D8).
	s.resetState()
	return errors.Join(errs...)
}

// Close deactivates the server and closes its NATS connections. The store
// is not closed.
func (s *Server) Close() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	err := s.deactivate()
	if s.conns != nil {
		s.conns.close()
		s.conns = nil
	}
	s.closed = true
	return err
}

// fail reports a store failure on the data path: state FAILED and
// Config.OnFatal, once per activation.
func (s *Server) fail(err error) {
	if s.fatal.Swap(true) {
		return
	}
	s.log.Error("store failure, no longer acknowledging publishes", "error", err)
	s.SetState(StateFailed)
	if s.cfg.OnFatal != nil {
		s.cfg.OnFatal(err)
	}
}

func (s *Server) isRunning() bool {
	s.runMu.RLock()
	defer s.runMu.RUnlock()
	return s.running
}

// enter registers a callback or timer function; it returns false when the
// server is not serving, in which case the caller must return at once.
// Every true return must be matched by s.exit().
func (s *Server) enter() bool {
	s.runMu.RLock()
	defer s.runMu.RUnlock()
	if !s.running {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Server) exit() { s.wg.Done() }

// goTracked runs f in a goroutine that Deactivate waits for.
func (s *Server) goTracked(f func()) bool {
	if !s.enter() {
		return false
	}
	go func() {
		defer s.exit()
		f()
	}()
	return true
}

// probeStandalone fails if another server answers on the discovery subject
// (SPEC §1: one standalone server per cluster ID).
func (s *Server) probeStandalone(ctx context.Context) error {
	subj := s.cfg.DiscoverPrefix + "." + s.cfg.ClusterID
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StandaloneProbeTimeout)
	defer cancel()
	_, err := s.conns.general.RequestWithContext(ctx, subj, nil)
	if err == nil {
		return fmt.Errorf("discovered another streaming server with cluster ID %q", s.cfg.ClusterID)
	}
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return nil
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("server: standalone probe: %w", ctx.Err())
	}
	return fmt.Errorf("server: standalone probe: %w", err)
}
