package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	natsd "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/stanft/stanft/ft"
	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/monitor"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/store"
)

// shutdownTimeout bounds each step of the graceful shutdown.
const shutdownTimeout = 30 * time.Second

// process is one running stanft server: the pieces serve builds, in the
// order it builds them, and what the signal loop needs.
type process struct {
	o    *options
	logs *logging
	log  hclog.Logger
	env  serverEnv
	nats *embeddedNATS // nil with -ns
	// monNATS is, with -ns and -m/-ms, the never-started NATS server object
	// that answers the NATS monitoring endpoints; SIGHUP reloads its
	// configuration as the reference does (SPEC §10.4).
	monNATS *embeddedNATS
	ncOpts  []nats.Option // options of the server's own NATS connections
	srv     *server.Server
	mon     *monitor.Monitor
	health  *health
	// fatal receives errors that end the process (NATS fatal log, fenced
	// active, elector failure); the first one wins.
	fatal chan error
}

func (p *process) fail(err error) {
	select {
	case p.fatal <- err:
	default:
	}
}

// serve runs the server until ctx is done or a fatal error occurs, then
// shuts down gracefully. It returns the exit code.
func serve(ctx context.Context, o *options, logs *logging, env serverEnv) int {
	p := &process{o: o, logs: logs, log: logs.root, env: env, health: &health{}, fatal: make(chan error, 1)}
	code := p.run(ctx)
	return code
}

func (p *process) run(ctx context.Context) (code int) {
	o, log := p.o, p.log
	serverID := nuid.Next()
	// The reference's texts (SPEC D2, §8.9), with stanft's version.
	log.Info(fmt.Sprintf("Starting nats-streaming-server[%s] version %s", o.ClusterID, version))
	log.Info(fmt.Sprintf("ServerID: %s", serverID))
	log.Info(fmt.Sprintf("Go version: %s", runtime.Version()))
	c := gitCommit()
	if c == "" {
		c = "not set"
	}
	log.Info(fmt.Sprintf("Git commit: [%s]", c))
	startFailed := func(err error) int {
		log.Error(fmt.Sprintf("Failed to start: %v", err))
		return exitFailure
	}

	natsURL := o.NATSServer
	if natsURL == "" {
		emb, err := startNATS(o, p.logs, func(msg string) { p.fail(errors.New(msg)) })
		if err != nil {
			return startFailed(err)
		}
		p.nats = emb
		defer emb.shutdown()
		natsURL = emb.clientURL
	}
	ncOpts, err := natsConnOptions(o, p.nats != nil && o.NATS.TLSConfig != nil)
	if err != nil {
		return startFailed(err)
	}
	p.ncOpts = ncOpts

	scfg := server.DefaultConfig()
	scfg.ClusterID = o.ClusterID
	scfg.DiscoverPrefix = o.DiscoverPrefix
	scfg.ServerID = serverID
	scfg.Version = version
	scfg.NATSURL = natsURL
	if o.StoreType == storeFile {
		scfg.StoreLocation = o.Dir
	}
	scfg.NATSOptions = ncOpts
	scfg.FT = o.FTGroup != ""
	scfg.ClientHBInterval = o.HBInterval
	scfg.ClientHBTimeout = o.HBTimeout
	scfg.ClientHBFailCount = o.HBFailCount
	scfg.ReplaceDurable = o.ReplaceDurable
	scfg.IOBatchSize = o.IOBatchSize
	if scfg.IOBatchSize == 0 {
		scfg.IOBatchSize = math.MaxInt32 // 0 is unlimited, as in the reference
	}
	scfg.IOSleepTime = time.Duration(o.IOSleepTime) * time.Microsecond
	scfg.Logger = log
	// A fenced (or closed) store is fatal: the server acknowledges nothing
	// more, and the process exits non-zero (an FT member also demotes: its
	// elector's Fence failed first, and stopping it releases the lock).
	scfg.OnFatal = func(err error) {
		p.fail(fmt.Errorf("store failure, this server can no longer write the datastore: %w", err))
	}
	metrics := monitor.NewMetrics()
	scfg.Metrics = metrics

	var st store.Store
	if scfg.FT {
		// The FT datastore is opened only once this server wins the lock;
		// until then the server holds an empty placeholder it never serves.
		var ms *memstore.Store
		if ms, err = memstore.New(memstore.Config{Limits: o.Limits.Clone(), Logger: log.Named("memstore")}); err == nil {
			st = standbyStore{Store: ms}
		}
	} else {
		if o.StoreType == storeFile {
			// A standalone server holds the datastore's lock too, so that no
			// other server (standalone or FT) writes the same directory.
			release, err := lockStandalone(ctx, o.Dir, log)
			if err != nil {
				return startFailed(err)
			}
			defer release()
		}
		st, err = p.openStore(nil, metrics)
	}
	if err != nil {
		return startFailed(err)
	}
	srv, err := server.New(scfg, st)
	if err != nil {
		st.Close()
		return startFailed(err)
	}
	p.srv = srv
	defer func() {
		if err := srv.Close(); err != nil {
			log.Error("closing the server", "error", err)
		}
	}()

	if o.monitorEnabled() {
		if err := p.startMonitor(metrics); err != nil {
			st.Close()
			return startFailed(err)
		}
		defer p.stopMonitor()
	}

	if dir := o.NATS.PortsFileDir; dir != "" {
		path, err := p.writePortsFile(dir)
		if err != nil {
			st.Close()
			return startFailed(err)
		}
		defer func() {
			if err := os.Remove(path); err != nil {
				log.Warn("removing the ports file", "error", err)
			}
		}()
	}

	if scfg.FT {
		// The placeholder stays open (monitoring may read it) until the
		// server is closed.
		defer st.Close()
		return p.runFT(ctx, natsURL, metrics)
	}

	if err := srv.Activate(ctx); err != nil {
		st.Close()
		if ctx.Err() != nil {
			return shutdownExitCode(ctx)
		}
		return startFailed(err)
	}
	srv.SetState(server.StateStandalone)
	p.health.setServing(true)
	if p.env.Started != nil {
		p.env.Started(natsURL)
	}
	err, _, _ = p.wait(ctx, nil)
	log.Info("Shutting down.")
	srv.SetState(server.StateShutdown)
	p.health.setServing(false)
	dctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if derr := srv.Deactivate(dctx); derr != nil {
		log.Error("deactivating the server", "error", derr)
	}
	if cerr := st.Close(); cerr != nil {
		log.Error("closing the store", "error", cerr)
	}
	if err != nil {
		log.Error(err.Error())
		return exitFailure
	}
	return shutdownExitCode(ctx)
}

// standbyStore is the empty store an FT standby's server holds until it is
// promoted: it is never served, and it reports the configured type (FILE)
// so that /streaming/storez on a standby shows what the group uses.
type standbyStore struct{ store.Store }

func (standbyStore) Type() string { return store.TypeFile }

// openStore opens the configured store. fence is the FT fencing check for a
// FILE store (nil when standalone).
func (p *process) openStore(fence func() error, metrics *monitor.Metrics) (store.Store, error) {
	o := p.o
	switch o.StoreType {
	case storeFile:
		st, err := openFileStore(o, p.log.Named("filestore"), fence, metrics)
		if err != nil {
			return nil, err
		}
		return st, nil
	default:
		return memstore.New(memstore.Config{Limits: o.Limits.Clone(), Logger: p.log.Named("memstore")})
	}
}

// wait blocks until ctx is done, a fatal error arrives (returned), or
// runErr yields (runDone, runResult), handling SIGUSR1 (reopen the log
// file) and SIGHUP (reload the embedded NATS configuration) meanwhile. A nil
// runErr never yields.
func (p *process) wait(ctx context.Context, runErr <-chan error) (fatal error, runDone bool, runResult error) {
	for {
		select {
		case <-ctx.Done():
			return nil, false, nil
		case err := <-p.fatal:
			return err, false, nil
		case err := <-runErr:
			return nil, true, err
		case sig := <-p.env.Signals:
			p.handleSignal(sig)
		}
	}
}

func (p *process) handleSignal(sig os.Signal) {
	switch sig {
	case syscall.SIGUSR1:
		if p.logs.file == nil {
			// The reference's line when there is no -l file.
			p.log.Info("File log re-open ignored, not a file logger")
			return
		}
		if err := p.logs.Reopen(); err != nil {
			p.log.Error(fmt.Sprintf("Unable to reopen log file: %v", err))
			return
		}
		p.log.Info("File log re-opened")
	case syscall.SIGHUP:
		ns := p.nats
		if ns == nil {
			ns = p.monNATS
		}
		if ns == nil {
			p.log.Warn("Reload supported only for embedded NATS Server's configuration")
			return
		}
		if err := ns.reload(p.o.NATS); err != nil {
			p.log.Error(fmt.Sprintf("Reload: %v", err))
			return
		}
		p.log.Info("Reloaded server configuration")
	}
}

// startMonitor serves the monitoring endpoints on the user's -m/-ms ports;
// the embedded NATS endpoints (/varz, ...) are served on the same port.
// With -ns there is no embedded server: as the reference does, a NATS server
// object that is never started answers those endpoints.
func (p *process) startMonitor(metrics *monitor.Metrics) error {
	o := p.o
	cfg := monitor.DefaultConfig()
	cfg.Source = p.srv
	cfg.Health = p.health
	cfg.Logger = p.log
	cfg.Metrics = metrics
	cfg.PerSubscriptionMetrics = o.MetricsPerSub
	if p.nats != nil {
		cfg.NATSHandler = monitor.NATSHandler(p.nats.ns)
	} else {
		nopts := prepareNATSOptions(o.NATS)
		if ns, err := natsd.NewServer(nopts); err == nil {
			adapter := &natsLogger{log: p.logs.nats}
			ns.SetLoggerV2(adapter, nopts.Debug, nopts.Trace, nopts.TraceVerbose)
			p.monNATS = &embeddedNATS{ns: ns, log: adapter}
			cfg.NATSHandler = monitor.NATSHandler(ns)
		} else {
			p.log.Warn("the NATS monitoring endpoints (/varz, ...) are not served", "error", err)
		}
	}
	mon, err := monitor.New(cfg)
	if err != nil {
		return err
	}
	host := o.NATS.HTTPHost
	if host == "" {
		host = o.NATS.Host
	}
	if host == "" {
		host = "0.0.0.0"
	}
	var httpAddr, httpsAddr string
	if o.NATS.HTTPPort != 0 {
		httpAddr = net.JoinHostPort(host, strconv.Itoa(max(o.NATS.HTTPPort, 0)))
	}
	if o.NATS.HTTPSPort != 0 {
		httpsAddr = net.JoinHostPort(host, strconv.Itoa(max(o.NATS.HTTPSPort, 0)))
	}
	if err := mon.Start(httpAddr, httpsAddr, o.NATS.TLSConfig); err != nil {
		return err
	}
	if a := mon.HTTPAddr(); a != "" {
		p.log.Info(fmt.Sprintf("Starting http monitor on %s", a))
	}
	if a := mon.HTTPSAddr(); a != "" {
		p.log.Info(fmt.Sprintf("Starting https monitor on %s", a))
	}
	p.mon = mon
	return nil
}

func (p *process) stopMonitor() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.mon.Shutdown(ctx); err != nil {
		p.log.Warn("stopping the monitor", "error", err)
	}
}

// health answers /healthz and /readyz (SPEC D8).
type health struct {
	serving atomic.Bool // a recovered active or standalone server
	// status, set in FT mode once the elector exists, is its status. The
	// monitor may already be serving, hence atomic.
	status atomic.Pointer[func() ft.Status]
}

func (h *health) setStatus(f func() ft.Status) { h.status.Store(&f) }

// ftStatus returns the elector's status, or false when not in FT mode.
func (h *health) ftStatus() (ft.Status, bool) {
	f := h.status.Load()
	if f == nil {
		return ft.Status{}, false
	}
	return (*f)(), true
}

func (h *health) setServing(b bool) { h.serving.Store(b) }

// Live implements monitor.Health: the process answers, and in FT mode the
// elector loop has made progress recently.
func (h *health) Live() error {
	st, ok := h.ftStatus()
	if !ok {
		return nil
	}
	if st.State == ft.Demoting || st.State == ft.Stopped {
		return nil // bounded by the shutdown timeout; no lock checks meanwhile
	}
	if since := time.Since(st.LastProgress); !st.LastProgress.IsZero() && since > liveTolerance {
		return fmt.Errorf("ft: no elector progress for %v (state %v)", since.Round(time.Millisecond), st.State)
	}
	return nil
}

// Ready implements monitor.Health: a serving server is ready; for role ""
// a standby connected to NATS is ready too (it can take over).
func (h *health) Ready(role string) error {
	if h.serving.Load() {
		return nil
	}
	if role == monitor.RoleActive {
		return monitor.ErrNotActive
	}
	if st, ok := h.ftStatus(); ok {
		if !st.Connected {
			return errors.New("ft: standby not connected to NATS")
		}
		if st.LockError != nil {
			return fmt.Errorf("ft: standby cannot take the lock: %w", st.LockError)
		}
		return nil
	}
	return errors.New("not serving")
}
