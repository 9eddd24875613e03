package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stanft/stanft/filestore"
	"github.com/stanft/stanft/ft"
	"github.com/stanft/stanft/ft/filelock"
	"github.com/stanft/stanft/ft/natsbeacon"
	"github.com/stanft/stanft/monitor"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/store"
)

// exitDualActive is the exit status of an active that stood down because
// another member claims to be active with a newer epoch: 2, as the
// reference's panic (SPEC §10.4).
const exitDualActive = 2

// liveTolerance is how long the elector may go without progress before
// /healthz fails.
const liveTolerance = 10 * time.Second

// ftPingInterval is the NATS PING interval of the FT connection: half the
// missed-heartbeat interval, between 100ms and 500ms (a silent partition is
// noticed within about two of them).
func ftPingInterval(missed time.Duration) time.Duration {
	return min(max(missed/2, 100*time.Millisecond), 500*time.Millisecond)
}

// ftConnectWait bounds the FT connection's first connect: attempts (each
// with the short handshake timeout of ftPingInterval) are repeated for this
// long, then the member fails to start, as the reference does at once
// (SPEC §8.4 step 1, §10.4).
const ftConnectWait = 2 * time.Second

// connectFT makes the FT connection, retrying for up to ftConnectWait.
func connectFT(ctx context.Context, url string, opts []nats.Option) (*nats.Conn, error) {
	deadline := time.Now().Add(ftConnectWait)
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil || time.Now().After(deadline) {
			return nc, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ftMember is the FT wiring: the elector's callbacks open the FILE store
// with the elector's fencing check, activate the server, and undo both.
type ftMember struct {
	p       *process
	metrics *monitor.Metrics
	el      *ft.Elector

	mu sync.Mutex
	st store.Store // the open store while promoted
	// stopping is the state a demotion for ft.ErrStopping leaves: set by
	// stoppingState before the elector is stopped; "" until then.
	stopping string
}

// stoppingState records that the member is stopping, after fatal (nil for
// a graceful stop), and returns the state to show: SHUTDOWN, or FAILED
// after a fatal error (SPEC §8.2).
func (m *ftMember) stoppingState(fatal error) string {
	state := server.StateShutdown
	if fatal != nil {
		state = server.StateFailed
	}
	m.mu.Lock()
	m.stopping = state
	m.mu.Unlock()
	return state
}

// runFT runs an FT member (SPEC §8, D4-D7): standby until the elector wins
// the lock, active until demoted, and so on until ctx is done or the member
// is fenced.
func (p *process) runFT(ctx context.Context, natsURL string, metrics *monitor.Metrics) int {
	o, log := p.o, p.log
	startFailed := func(err error) int {
		log.Error(fmt.Sprintf("Failed to start: %v", err))
		return exitFailure
	}
	// Not standing by until the FT connection and subscription exist
	// (SPEC §8.2 "before FT setup", §8.4 step 1).
	p.srv.SetState(server.StateStandalone)
	// Refuse early a datastore of another cluster (SPEC §11.8). A
	// datastore this member cannot read now (permissions, a late mount) is
	// not a reason to exit: as the reference, it stands by and its lock
	// attempts log the error until the directory becomes usable (SPEC
	// §8.4, §8.5); recovery checks the cluster ID again after the lock.
	if info, err := filestore.ReadServerInfo(o.Dir); err == nil && info != nil && info.ClusterID != o.ClusterID {
		// The reference's text exactly (SPEC §7.4), found before taking
		// the lock.
		return startFailed(fmt.Errorf("cluster ID %q does not match recovered value of %q", o.ClusterID, info.ClusterID))
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return startFailed(fmt.Errorf("datastore directory: %w", err))
	}
	lock, err := filelock.New(filelock.Config{Dir: o.Dir, Logger: log.Named("filelock")})
	if err != nil {
		return startFailed(err)
	}
	ftName := fmt.Sprintf("_NSS-%s-ft", o.ClusterID)
	ncOpts := append(append([]nats.Option(nil), p.ncOpts...),
		nats.Name(ftName),
		// The reference's connection lines (SPEC §8.9): a standby's only
		// connection is this one.
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Error(fmt.Sprintf("connection %q has been disconnected: %v", ftName, err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info(fmt.Sprintf("connection %q reconnected to NATS Server at %q", ftName, nc.ConnectedUrlRedacted()))
		}),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectBufSize(-1),
		// No RetryOnFailedConnect: as the reference, a member whose NATS
		// server does not answer at startup fails to start (exit 1), after
		// connectFT's short wait.
		// A silent partition (packets dropped, no reset) is noticed only by
		// the client's PINGs: with these, within about 1.5 missed intervals,
		// so that the active stands down in bounded time (SPEC D7).
		nats.PingInterval(ftPingInterval(o.FTHBMissed)),
		nats.MaxPingsOutstanding(2),
		// A reconnect attempt through a silent path holds the connection
		// (and so the elector's connectivity check) for the whole handshake
		// timeout: keep it to one ping interval.
		nats.Timeout(ftPingInterval(o.FTHBMissed)),
	)
	nc, err := connectFT(ctx, natsURL, ncOpts)
	if err != nil {
		if ctx.Err() != nil {
			// Stopped (SIGTERM, SIGINT) while waiting for NATS.
			return shutdownExitCode(ctx)
		}
		return startFailed(fmt.Errorf("ft: connect to NATS: %w", err))
	}
	defer nc.Close()
	bcfg := natsbeacon.DefaultConfig()
	bcfg.Conn, bcfg.ClusterID, bcfg.Group, bcfg.Logger = nc, o.ClusterID, o.FTGroup, log
	beacon, err := natsbeacon.New(bcfg)
	if err != nil {
		return startFailed(err)
	}
	defer beacon.Close()

	m := &ftMember{p: p, metrics: metrics}
	ecfg := ft.DefaultConfig()
	ecfg.ID = p.srv.ServerID()
	ecfg.HeartbeatInterval = o.FTHBInterval
	ecfg.MissedHeartbeatTimeout = o.FTHBMissed
	ecfg.Logger = log
	ecfg.Metrics = metrics
	el, err := ft.New(ecfg, lock, beacon, ft.Callbacks{OnPromote: m.promote, OnDemote: m.demote})
	if err != nil {
		return startFailed(err)
	}
	m.el = el
	p.health.setStatus(el.Status)

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	runErr := make(chan error, 1)
	p.srv.SetState(server.StateStandby)
	go func() { runErr <- el.Run(runCtx) }()
	if p.env.Started != nil {
		p.env.Started(natsURL)
	}

	fatal, runDone, runResult := p.wait(ctx, runErr)
	if runDone {
		// Fenced or failed promotion: exit non-zero
		// without writing more (SPEC D5).
		p.srv.SetState(server.StateFailed)
		if pe, ok := errors.AsType[*ft.PromoteError](runResult); ok {
			// The cause alone, as the reference's fatal start line
			// (SPEC §8.6, §7.4): 'Failed to start: cluster ID ...'.
			log.Error(fmt.Sprintf("Failed to start: %v", pe.Err))
			return exitFailure
		}
		log.Error(fmt.Sprintf("ft: stopping: %v", runResult))
		return activeExit(runResult)
	}
	log.Info("Shutting down.")
	final := m.stoppingState(fatal)
	p.srv.SetState(final)
	stop()
	var rerr error
	select {
	case rerr = <-runErr:
	case <-time.After(shutdownTimeout):
		rerr = errors.New("ft: elector did not stop in time")
	}
	if rerr != nil {
		final = server.StateFailed
	}
	p.srv.SetState(final)
	if rerr != nil {
		log.Error(fmt.Sprintf("ft: %v", rerr))
		return activeExit(rerr, fatal)
	}
	if fatal != nil {
		log.Error(fatal.Error())
		return activeExit(fatal)
	}
	return shutdownExitCode(ctx)
}

// activeExit is the exit status of a member stopped by errs: 2 for the
// dual-active loser, as the reference's panic (SPEC §10.4), whichever path
// saw it first (the elector hearing the newer active, or a write failing
// its fence while the elector reports the newer active); 1 otherwise.
func activeExit(errs ...error) int {
	for _, err := range errs {
		if _, ok := errors.AsType[*ft.ActiveElsewhereError](err); ok {
			return exitDualActive
		}
	}
	return exitFailure
}

// promote is ft.Callbacks.OnPromote: open and recover the datastore with the
// elector's fencing check, then serve.
func (m *ftMember) promote(ctx context.Context, e ft.Epoch) error {
	p := m.p
	st, err := p.openStore(m.el.Fence, m.metrics)
	if err != nil {
		return fmt.Errorf("open the store: %w", err)
	}
	if err := p.srv.SetStore(st); err != nil {
		st.Close()
		return err
	}
	m.mu.Lock()
	m.st = st
	m.mu.Unlock()
	if err := p.srv.Activate(ctx); err != nil {
		return err // logged as the reference's 'Failed to start: <err>'
	}
	p.srv.SetState(server.StateActive)
	p.health.setServing(true)
	return nil
}

// demote is ft.Callbacks.OnDemote: stop serving, flush and close the store;
// the elector releases the lock after it returns.
func (m *ftMember) demote(reason error) {
	p := m.p
	p.health.setServing(false)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := p.srv.Deactivate(ctx); err != nil {
		p.log.Error("deactivating the server", "error", err)
	}
	state := demotedState(reason)
	m.mu.Lock()
	if errors.Is(reason, ft.ErrStopping) && m.stopping != "" {
		state = m.stopping
	}
	m.mu.Unlock()
	p.srv.SetState(state)
	m.mu.Lock()
	st := m.st
	m.st = nil
	m.mu.Unlock()
	if st != nil {
		if err := st.Close(); err != nil {
			p.log.Error("closing the store", "error", err)
		}
	}
	p.log.Info("demoted", "reason", reason)
}

// demotedState is the serverz state after a demotion for reason (SPEC
// §8.2): SHUTDOWN on a graceful stop, FT_STANDBY when the member stands by
// again (step-down, NATS lost), FAILED otherwise (fenced, another active,
// failed promotion: the process is about to exit non-zero).
func demotedState(reason error) string {
	switch {
	case errors.Is(reason, ft.ErrStopping):
		return server.StateShutdown
	case errors.Is(reason, ft.ErrSteppedDown), errors.Is(reason, ft.ErrDisconnected):
		return server.StateStandby
	default:
		return server.StateFailed
	}
}
