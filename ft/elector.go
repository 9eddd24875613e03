package ft

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Status is a snapshot of the elector for health, readiness and monitoring.
type Status struct {
	State State
	// Epoch is this member's epoch while it holds the lock
	// (Recovering, Active, Demoting), else 0.
	Epoch Epoch
	// ActiveID is the member believed active: this member's ID while it
	// holds the lock, otherwise the sender of the last heartbeat if it is
	// younger than MissedHeartbeatTimeout, else "".
	ActiveID string
	// LastProgress is when the elector last proved it is alive and in
	// control: a successful lock check while holding the lock, a poll tick
	// while standing by. /healthz compares it with a tolerance.
	LastProgress time.Time
	// LastHeartbeatSeen is when the last valid heartbeat of another member
	// arrived (zero if never).
	LastHeartbeatSeen time.Time
	// Connected is the beacon's current connectivity.
	Connected bool
	// LockError is the error of the last lock attempt when it failed for
	// another reason than "held by another member" (permission, missing
	// directory, I/O): this standby could not take over. Nil otherwise.
	LockError error
}

// Elector runs the FT protocol of one member. Create it with New, run it
// with Run; Status, StepDown and Fence may be called from any goroutine.
type Elector struct {
	cfg     Config
	log     hclog.Logger
	metrics Metrics
	lock    Lock
	beacon  Beacon
	cb      Callbacks

	running  atomic.Bool
	stepDown chan struct{} // StepDown → loop; capacity 1
	fenced   chan error    // Fence failures → loop; capacity 1

	mu  sync.Mutex
	st  Status
	bug error // first illegal transition (a programming error), returned by Run

	// Fields below are used only by the Run goroutine.
	msgs        <-chan []byte
	epoch       Epoch
	activeSince time.Time
	activeID    string    // another member seen active
	lastAlive   time.Time // last sign of life of another active (or our return to standby)
	firstTry    time.Time // first lock attempt after lastAlive
	acquiredAt  time.Time
	sawOther    bool      // saw another active (or the lock held) since start: promotions are take-overs
	retryAfter  time.Time // no lock attempt before this (after a step-down)
	heldLog     throttle
	errLog      throttle
	garbageLog  throttle
	foreignLog  throttle
	dualLog     throttle
	publishLog  throttle
}

// New validates cfg and the parts and returns an Elector in state Standby.
func New(cfg Config, lock Lock, beacon Beacon, cb Callbacks) (*Elector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case lock == nil:
		return nil, &ConfigError{Field: "Lock", Value: nil, Reason: "required"}
	case beacon == nil:
		return nil, &ConfigError{Field: "Beacon", Value: nil, Reason: "required"}
	case cb.OnPromote == nil:
		return nil, &ConfigError{Field: "Callbacks.OnPromote", Value: nil, Reason: "required"}
	case cb.OnDemote == nil:
		return nil, &ConfigError{Field: "Callbacks.OnDemote", Value: nil, Reason: "required"}
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	m := cfg.Metrics
	if m == nil {
		m = NopMetrics{}
	}
	e := &Elector{
		cfg:      cfg,
		log:      log.Named("ft"),
		metrics:  m,
		lock:     lock,
		beacon:   beacon,
		cb:       cb,
		stepDown: make(chan struct{}, 1),
		fenced:   make(chan error, 1),
		st:       Status{State: Standby},
	}
	// The metric shows the state Status shows from the start: a scrape
	// between New and Run (readiness only needs Status) finds "standby".
	m.FTState(Standby.String())
	return e, nil
}

// ID returns the member ID.
func (e *Elector) ID() string { return e.cfg.ID }

// Status returns a snapshot.
func (e *Elector) Status() Status {
	e.mu.Lock()
	s := e.st
	e.mu.Unlock()
	s.Connected = e.beacon.Connected()
	return s
}

// StepDown asks an active (or recovering) member to stand down gracefully:
// OnDemote, release the lock, publish a step-down notice, then stay standby
// for MissedHeartbeatTimeout before trying the lock again, so that another
// member takes over. It does not wait. On a standby it does nothing.
func (e *Elector) StepDown() {
	e.mu.Lock()
	serving := e.st.State == Recovering || e.st.State == Active
	e.mu.Unlock()
	if !serving {
		return
	}
	select {
	case e.stepDown <- struct{}{}:
	default:
	}
}

// Fence checks the lock and is meant as the store's hook before every
// durable batch (flush, fsync). On failure it returns an error wrapping
// ErrFenced (and the lock's error), and the elector demotes at once and
// Run returns an error. Safe for concurrent use.
func (e *Elector) Fence() error {
	err := e.lock.Check(context.Background())
	e.metrics.FTFencingCheck(err == nil)
	if err != nil {
		select {
		case e.fenced <- err:
		default:
		}
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return nil
}

// Run runs the protocol until ctx is cancelled or this member is fenced.
// It starts as a standby. It returns nil after a cancellation, once any
// demotion has completed (OnDemote returned, lock released, notice sent);
// it returns an error wrapping ErrFenced when the lock was lost or another
// member holds a newer epoch, or a *PromoteError (ErrPromote) when
// OnPromote failed. The caller should exit non-zero on any error. A lock error, fatal or not,
// does not end Run: as the reference (SPEC §8.4), the standby logs it (rate
// limited) and tries again, so that a datastore that becomes usable (a
// late mount, fixed permissions) is taken over. Run may be called once.
func (e *Elector) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	e.msgs = e.beacon.Messages()
	e.lastAlive = time.Now()
	e.log.Info("Starting in standby mode", "id", e.cfg.ID, "lock", e.lock.Describe())
	for {
		epoch, err := e.runStandby(ctx)
		if err != nil {
			e.transition(Stopped, "reason", err)
			if bug := e.getBug(); bug != nil {
				return bug
			}
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil
			}
			return err
		}
		again, err := e.runActive(ctx, epoch)
		if bug := e.getBug(); bug != nil {
			return bug
		}
		if !again {
			return err
		}
	}
}

// runStandby polls the lock until it is acquired (returns its epoch), ctx
// ends or a fatal lock error occurs (returns the error).
func (e *Elector) runStandby(ctx context.Context) (Epoch, error) {
	timer := time.NewTimer(0) // try at once
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case raw, ok := <-e.msgs:
			if !ok {
				e.msgs = nil
				continue
			}
			if h, ok := e.decode(raw); ok && e.observe(h) {
				timer.Reset(0)
			}
		case <-e.stepDown: // not serving: nothing to step down from
		case <-e.fenced: // a flush attempted without the lock: already refused
		case <-timer.C:
			now := time.Now()
			e.progress(now)
			e.forgetSilentActive(now)
			if wait := e.retryAfter.Sub(now); wait > 0 {
				timer.Reset(wait)
				continue
			}
			if !e.beacon.Connected() {
				// Not reachable by clients: do not take over.
				timer.Reset(e.jitter(e.cfg.LockPollInterval))
				continue
			}
			epoch, err := e.tryAcquire(ctx)
			if err == nil {
				return epoch, nil
			}
			if ctx.Err() != nil {
				return 0, err
			}
			if errors.Is(err, ErrLockFatal) {
				// Retrying at once cannot help: try again at the
				// reference's cadence, the missed interval.
				timer.Reset(e.jitter(e.cfg.MissedHeartbeatTimeout))
				continue
			}
			timer.Reset(e.jitter(e.cfg.LockPollInterval))
		}
	}
}

// tryAcquire makes one lock attempt (Standby → Acquiring → Standby or
// Recovering-to-be).
func (e *Elector) tryAcquire(ctx context.Context) (Epoch, error) {
	now := time.Now()
	if e.firstTry.IsZero() || e.firstTry.Before(e.lastAlive) {
		e.firstTry = now
	}
	e.transition(Acquiring)
	epoch, err := e.lock.TryAcquire(ctx)
	if err == nil && ctx.Err() != nil {
		// Stopping: give the lock back before anything was written.
		if rerr := e.lock.Release(context.WithoutCancel(ctx)); rerr != nil {
			e.log.Warn("release after cancelled acquire", "error", rerr)
		}
		return 0, ctx.Err()
	}
	var lockErr error
	if err != nil && !errors.Is(err, ErrLockHeld) && ctx.Err() == nil {
		lockErr = err
	}
	e.update(func(s *Status) { s.LockError = lockErr })
	if err == nil {
		e.acquiredAt = time.Now()
		e.heldLog.reset()
		e.errLog.reset()
		return epoch, nil
	}
	switch {
	case errors.Is(err, ErrLockFatal):
		// The reference's text (SPEC §8.4), rate limited (§8.3).
		if n, ok := e.errLog.allow(now); ok {
			e.log.Error(fmt.Sprintf("ft: error attempting to get the store lock: ft: fatal error getting the store lock: %v", err),
				"suppressed", n)
		}
	case errors.Is(err, ErrLockHeld):
		// Another member holds the lock: whether or not its heartbeats
		// reach us, our activation will be a take-over.
		e.sawOther = true
		// The reference's line means "heartbeats are missing, yet the lock
		// is held" (an active frozen, cut off from NATS, or of another
		// group): it tries the lock only after a missed interval without
		// heartbeats (SPEC §8.4). We poll all the time (D7); a poll that
		// finds the lock held while the active's heartbeats arrive is
		// routine and logged at trace level only.
		if now.Sub(e.lastAlive) < e.cfg.MissedHeartbeatTimeout {
			e.log.Trace("lock held by the active", "active", e.activeID)
		} else if n, ok := e.heldLog.allow(now); ok {
			e.log.Info("ft: unable to get store lock at this time, going back to standby",
				"active", e.activeID, "suppressed", n)
		}
	case ctx.Err() != nil:
	default:
		if n, ok := e.errLog.allow(now); ok {
			e.log.Error(fmt.Sprintf("ft: error attempting to get the store lock: %v", err), "suppressed", n)
		}
	}
	e.transition(Standby)
	return 0, err
}

// leaderOutcome is why a holding member demotes.
type leaderOutcome struct {
	reason    error // passed to OnDemote
	err       error // returned by Run (nil: not an error)
	fenced    bool  // the lock is not ours any more: no notice
	requestID string
}

// runActive runs Recovering and Active, then demotes. It returns
// again=true to go back to standby, or again=false and Run's result.
func (e *Elector) runActive(ctx context.Context, epoch Epoch) (again bool, err error) {
	e.epoch = epoch
	e.activeSince = time.Now()
	e.metrics.FTEpoch(uint64(epoch))
	e.update(func(s *Status) {
		s.Epoch = epoch
		s.ActiveID = e.cfg.ID
		s.LastProgress = e.activeSince
	})
	e.transition(Recovering, "epoch", epoch)
	e.log.Info("Server is active", "epoch", epoch, "id", e.cfg.ID)
	drain(e.fenced)
	drain(e.stepDown)

	// OnPromote's context is cancelled only by demotion (keeping ctx's
	// values), so that demotion order stays: cancel, wait, OnDemote.
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	promoted := make(chan error, 1)
	go func() { promoted <- e.cb.OnPromote(pctx, epoch) }()

	e.publishHeartbeat(ctx, Recovering)
	hb := time.NewTimer(e.jitter(e.cfg.HeartbeatInterval))
	defer hb.Stop()
	check := time.NewTimer(e.cfg.LockCheckInterval)
	defer check.Stop()
	// Connectivity is checked every quarter missed interval, not at the
	// heartbeat ticks, so that the stand-down after a NATS loss comes
	// within 1.25 missed intervals whatever the heartbeat interval.
	conn := time.NewTicker(max(e.cfg.MissedHeartbeatTimeout/4, time.Millisecond))
	defer conn.Stop()
	var disconnectedSince time.Time
	var out leaderOutcome
	for out.reason == nil {
		select {
		case <-ctx.Done():
			out = leaderOutcome{reason: ErrStopping}
		case perr := <-promoted:
			promoted = nil
			if perr != nil {
				out = leaderOutcome{reason: perr, err: &PromoteError{Epoch: epoch, Err: perr}}
				continue
			}
			// Metrics first, so that whoever sees Active also sees them.
			e.reportTakeover(epoch)
			e.transition(Active, "epoch", epoch)
		case <-conn.C:
			now := time.Now()
			switch {
			case e.beacon.Connected():
				disconnectedSince = time.Time{}
			case disconnectedSince.IsZero():
				disconnectedSince = now
			case now.Sub(disconnectedSince) > e.cfg.MissedHeartbeatTimeout:
				e.log.Warn("disconnected from NATS for too long, standing down", "for", now.Sub(disconnectedSince))
				out = leaderOutcome{reason: ErrDisconnected}
			}
		case <-hb.C:
			e.publishHeartbeat(ctx, e.Status().State)
			hb.Reset(e.jitter(e.cfg.HeartbeatInterval))
		case <-check.C:
			if cerr := e.checkLock(ctx); cerr != nil {
				out = fencedOutcome(cerr)
				continue
			}
			check.Reset(e.cfg.LockCheckInterval)
		case ferr := <-e.fenced:
			out = fencedOutcome(ferr)
		case <-e.stepDown:
			e.log.Info("stepping down", "epoch", epoch)
			out = leaderOutcome{reason: ErrSteppedDown}
		case raw, ok := <-e.msgs:
			if !ok {
				e.msgs = nil
				continue
			}
			h, ok := e.decode(raw)
			if !ok {
				continue
			}
			if o, checkNow := e.observeAsActive(h, epoch); o.reason != nil {
				out = o
			} else if checkNow {
				check.Reset(0)
			}
		}
	}
	return e.demote(ctx, epoch, out, cancel, promoted)
}

func fencedOutcome(cause error) leaderOutcome {
	return leaderOutcome{reason: cause, err: fmt.Errorf("%w: %w", ErrFenced, cause), fenced: true}
}

// demote runs the Demoting phase in its required order: cancel OnPromote's
// context and wait for it, OnDemote (stop serving, flush, close), release
// the lock, publish the notice.
func (e *Elector) demote(ctx context.Context, epoch Epoch, out leaderOutcome, cancel context.CancelFunc, promoted <-chan error) (bool, error) {
	e.transition(Demoting, "epoch", epoch, "reason", out.reason)
	cancel()
	if promoted != nil {
		if perr := <-promoted; perr != nil && out.err == nil && !errors.Is(perr, context.Canceled) {
			e.log.Warn("promotion ended with an error during demotion", "error", perr)
		}
	}
	e.cb.OnDemote(out.reason)
	// A fence failure during OnDemote's final flush means that flush was
	// refused because the lock is not ours: report it.
	select {
	case ferr := <-e.fenced:
		if !out.fenced {
			out.fenced = true
			if out.err == nil {
				out.err = fmt.Errorf("%w: %w", ErrFenced, ferr)
			}
		}
	default:
	}
	// Only now, with the store flushed and closed, may the lock go: the
	// next holder must see everything this member acknowledged.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.MissedHeartbeatTimeout)
	defer rcancel()
	if err := e.lock.Release(rctx); err != nil {
		e.log.Warn("releasing the lock", "lock", e.lock.Describe(), "error", err)
	}
	now := time.Now()
	e.update(func(s *Status) {
		s.Epoch = 0
		s.ActiveID = ""
		s.LastProgress = now
	})
	e.epoch = 0
	e.activeID = ""
	e.lastAlive = now
	if !out.fenced {
		// After the release, so that a standby woken by the notice finds
		// the lock free.
		e.publishNotice(rctx, epoch, out.requestID)
	}
	if out.err != nil {
		e.log.Error("stopped", "epoch", epoch, "error", out.err)
		e.transition(Stopped, "reason", out.err)
		return false, out.err
	}
	if ctx.Err() != nil {
		e.transition(Stopped, "reason", out.reason)
		return false, nil
	}
	e.retryAfter = now.Add(e.cfg.MissedHeartbeatTimeout)
	e.transition(Standby, "reason", out.reason)
	return true, nil
}

// checkLock is the periodic lock check of a holding member.
func (e *Elector) checkLock(ctx context.Context) error {
	// Not ctx: a cancellation must not look like a lost lock.
	err := e.lock.Check(context.WithoutCancel(ctx))
	e.metrics.FTLockCheck(err == nil)
	if err != nil {
		e.log.Error("lock check failed: fenced", "lock", e.lock.Describe(), "epoch", e.epoch, "error", err)
		return err
	}
	e.progress(time.Now())
	return nil
}

// reportTakeover logs and measures the promotion that just completed.
func (e *Elector) reportTakeover(epoch Epoch) {
	now := time.Now()
	detection := max(e.firstTry.Sub(e.lastAlive), 0)
	lockWait := max(e.acquiredAt.Sub(e.firstTry), 0)
	recovery := now.Sub(e.acquiredAt)
	e.metrics.FTTimeToActive(detection, lockWait, recovery)
	if e.sawOther {
		e.metrics.FTFailover()
	}
	e.log.Info("promoted", "epoch", epoch, "detection", detection, "lock_wait", lockWait,
		"recovery", recovery, "takeover", e.sawOther)
}

// decode parses a received message; it logs (rate limited) and drops
// undecodable and foreign messages, and drops our own echoes.
func (e *Elector) decode(raw []byte) (Heartbeat, bool) {
	h, err := DecodeHeartbeat(raw)
	if err != nil {
		now := time.Now()
		if errors.Is(err, ErrForeignMessage) {
			if n, ok := e.foreignLog.allow(now); ok {
				e.log.Error("a nats-streaming-server shares the group: ignoring its heartbeat (mixed groups are not supported)",
					"suppressed", n)
			}
		} else if n, ok := e.garbageLog.allow(now); ok {
			e.log.Warn("ignoring an undecodable message on the FT subject", "bytes", len(raw), "error", err, "suppressed", n)
		}
		return Heartbeat{}, false
	}
	if h.ServerID == e.cfg.ID {
		return Heartbeat{}, false
	}
	return h, true
}

// observe handles a message while standing by. It returns true when the
// lock should be tried at once (a step-down notice).
func (e *Elector) observe(h Heartbeat) bool {
	now := time.Now()
	switch h.Kind {
	case KindHeartbeat:
		e.seeHeartbeat(h, now)
	case KindStepDownNotice:
		e.sawOther = true
		e.lastAlive = now
		e.log.Info("step-down notice", "from", h.ServerID, "epoch", h.Epoch)
		if h.ServerID == e.activeID {
			e.activeID = ""
			e.update(func(s *Status) { s.ActiveID = "" })
		}
		return true
	case KindStepDownRequest:
		// Only the active answers.
	}
	return false
}

// observeAsActive handles a message while holding the lock. A non-nil
// outcome reason demotes; checkNow asks for an immediate lock check.
func (e *Elector) observeAsActive(h Heartbeat, epoch Epoch) (out leaderOutcome, checkNow bool) {
	now := time.Now()
	switch h.Kind {
	case KindHeartbeat:
		e.metrics.FTHeartbeatSeen()
		e.update(func(s *Status) { s.LastHeartbeatSeen = now })
		if h.Epoch >= epoch {
			// The other member acquired the lock after us (or the lock is
			// broken): the lower epoch stands down; equal epochs both do.
			aee := &ActiveElsewhereError{ServerID: h.ServerID, Epoch: h.Epoch, OurEpoch: epoch}
			// The reference's line for the dual-active loser (SPEC §8.6).
			e.log.Error(fmt.Sprintf("ft: serverID %q claims to be active, aborting", h.ServerID),
				"other_epoch", h.Epoch, "epoch", epoch)
			return fencedOutcome(aee), false
		}
		if n, ok := e.dualLog.allow(now); ok {
			e.log.Error(fmt.Sprintf("ft: serverID %q claims to be active", h.ServerID), "other_epoch", h.Epoch,
				"epoch", epoch, "suppressed", n)
		}
		return leaderOutcome{}, true
	case KindStepDownRequest:
		if (h.Target == "" || h.Target == e.cfg.ID) && (h.Epoch == 0 || h.Epoch == epoch) {
			e.log.Info("step-down requested", "by", h.ServerID, "request", h.RequestID, "epoch", epoch)
			return leaderOutcome{reason: ErrSteppedDown, requestID: h.RequestID}, false
		}
	case KindStepDownNotice:
	}
	return leaderOutcome{}, false
}

// seeHeartbeat records another member's heartbeat.
func (e *Elector) seeHeartbeat(h Heartbeat, now time.Time) {
	e.metrics.FTHeartbeatSeen()
	e.sawOther = true
	e.lastAlive = now
	changed := h.ServerID != e.activeID
	e.activeID = h.ServerID
	e.update(func(s *Status) {
		s.ActiveID = h.ServerID
		s.LastHeartbeatSeen = now
	})
	if changed {
		e.log.Info("active member", "id", h.ServerID, "epoch", h.Epoch, "state", h.State)
		if e.cb.OnNewActive != nil {
			e.cb.OnNewActive(h.ServerID)
		}
	}
}

// forgetSilentActive clears ActiveID when its heartbeats stopped.
func (e *Elector) forgetSilentActive(now time.Time) {
	if e.activeID == "" {
		return
	}
	e.mu.Lock()
	silent := now.Sub(e.st.LastHeartbeatSeen) > e.cfg.MissedHeartbeatTimeout
	if silent {
		e.st.ActiveID = ""
	}
	e.mu.Unlock()
	if silent {
		e.log.Info("active member's heartbeats stopped", "id", e.activeID)
		e.activeID = ""
	}
}

func (e *Elector) publishHeartbeat(ctx context.Context, state State) {
	e.publish(ctx, Heartbeat{Kind: KindHeartbeat, ServerID: e.cfg.ID, Epoch: e.epoch, State: state,
		ActiveSince: e.activeSince})
}

func (e *Elector) publishNotice(ctx context.Context, epoch Epoch, requestID string) {
	if !e.beacon.Connected() {
		return
	}
	e.publish(ctx, Heartbeat{Kind: KindStepDownNotice, ServerID: e.cfg.ID, Epoch: epoch, State: Standby,
		RequestID: requestID})
	if err := e.beacon.Flush(ctx); err != nil {
		e.log.Warn("flushing the step-down notice", "error", err)
	}
}

func (e *Elector) publish(ctx context.Context, h Heartbeat) {
	b, err := h.Encode()
	if err == nil {
		err = e.beacon.Publish(ctx, b)
	}
	if err != nil {
		if n, ok := e.publishLog.allow(time.Now()); ok {
			// The reference's line (SPEC §8.6), rate limited.
			e.log.Error(fmt.Sprintf("Unable to send FT %s: %v", h.Kind, err), "suppressed", n)
		}
	}
}

// transition is the only place that changes the state. It checks the
// legal-transition table, logs, reports the metric and updates Status.
// Standby ↔ Acquiring (every poll) logs at trace level only.
func (e *Elector) transition(to State, kv ...any) {
	e.mu.Lock()
	from := e.st.State
	ok := legal(from, to)
	if !ok && e.bug == nil {
		e.bug = fmt.Errorf("ft: BUG: illegal state transition %s → %s", from, to)
	}
	e.st.State = to
	e.mu.Unlock()
	if !ok {
		e.log.Error("BUG: illegal state transition", "from", from, "to", to)
	}
	// A standby's lock poll (every 50 ms) is not a state change an operator
	// should see flicker on /metrics: the metric stays "standby" through
	// a failed attempt and shows "acquiring" only on the way to winning.
	routine := (from == Standby && to == Acquiring) || (from == Acquiring && to == Standby)
	if !routine {
		if from == Acquiring {
			e.metrics.FTState(Acquiring.String())
		}
		e.metrics.FTState(to.String())
	}
	args := append([]any{"from", from, "to", to}, kv...)
	if routine {
		e.log.Trace("state", args...)
	} else {
		e.log.Info("state", args...)
	}
}

func (e *Elector) getBug() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bug
}

func (e *Elector) update(f func(*Status)) {
	e.mu.Lock()
	f(&e.st)
	e.mu.Unlock()
}

func (e *Elector) progress(now time.Time) {
	e.update(func(s *Status) { s.LastProgress = now })
}

// jitter spreads d by ± cfg.Jitter.
func (e *Elector) jitter(d time.Duration) time.Duration {
	if e.cfg.Jitter == 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + e.cfg.Jitter*(2*rand.Float64()-1)))
}

func drain[T any](c chan T) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}
