package monitor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Listener errors.
var (
	ErrNoListener     = errors.New("monitor: no HTTP or HTTPS address to listen on")
	ErrAlreadyStarted = errors.New("monitor: already started")
	ErrNoTLSConfig    = errors.New("monitor: HTTPS address given without a TLS config holding a certificate")
)

// readHeaderTimeout bounds slow clients. There is no write timeout: a big
// channelsz?subs=1 may take a while to build, as on the NATS monitor port.
const readHeaderTimeout = 5 * time.Second

// Start binds httpAddr and httpsAddr ("host:port"; "" skips one; port 0
// picks a free one) and serves Handler on them in the background. Binding
// is synchronous: a port in use is returned here, wrapped with the address,
// and nothing stays bound. tlsCfg is required with httpsAddr (the NATS
// server's TLS config for -ms). A Monitor is started at most once; stop it
// with Shutdown.
func (m *Monitor) Start(httpAddr, httpsAddr string, tlsCfg *tls.Config) error {
	if httpAddr == "" && httpsAddr == "" {
		return ErrNoListener
	}
	if httpsAddr != "" && (tlsCfg == nil || (len(tlsCfg.Certificates) == 0 &&
		tlsCfg.GetCertificate == nil && tlsCfg.GetConfigForClient == nil)) {
		return ErrNoTLSConfig
	}
	ls := &m.listeners
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.started {
		return ErrAlreadyStarted
	}

	var lns [2]net.Listener
	for i, addr := range [2]string{httpAddr, httpsAddr} {
		if addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				if l != nil {
					l.Close()
				}
			}
			return fmt.Errorf("monitor: listen %s on %s: %w", [2]string{"http", "https"}[i], addr, err)
		}
		if i == 1 {
			// HTTP/1.1 over TLS; no h2 negotiation on the monitoring port.
			ln = tls.NewListener(ln, tlsCfg.Clone())
		}
		lns[i] = ln
	}

	ls.started = true
	ls.errc = make(chan error, 2)
	errLog := m.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	for i, ln := range lns {
		if ln == nil {
			continue
		}
		srv := &http.Server{
			Handler:           m.handler,
			ReadHeaderTimeout: readHeaderTimeout,
			MaxHeaderBytes:    1 << 20,
			ErrorLog:          errLog,
		}
		ls.addrs[i] = ln.Addr().String()
		ls.servers = append(ls.servers, srv)
		scheme := [2]string{"http", "https"}[i]
		m.log.Info("monitoring listening", "scheme", scheme, "addr", ls.addrs[i])
		ls.wg.Add(1)
		go func() {
			defer ls.wg.Done()
			err := srv.Serve(ln)
			if !errors.Is(err, http.ErrServerClosed) {
				ls.errc <- fmt.Errorf("monitor: serve %s on %s: %w", scheme, ln.Addr(), err)
			}
		}()
	}
	return nil
}

// HTTPAddr returns the bound HTTP address, or "" when not listening.
func (m *Monitor) HTTPAddr() string {
	m.listeners.mu.Lock()
	defer m.listeners.mu.Unlock()
	return m.listeners.addrs[0]
}

// HTTPSAddr returns the bound HTTPS address, or "" when not listening.
func (m *Monitor) HTTPSAddr() string {
	m.listeners.mu.Lock()
	defer m.listeners.mu.Unlock()
	return m.listeners.addrs[1]
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx is done, then closes what is left. It waits for the serving
// goroutines and returns the first error a server failed with, if any.
// Shutdown without Start, or a second Shutdown, returns nil.
func (m *Monitor) Shutdown(ctx context.Context) error {
	ls := &m.listeners
	ls.mu.Lock()
	servers := ls.servers
	ls.servers = nil
	ls.mu.Unlock()

	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			// Deadline passed with requests still running: cut them.
			srv.Close()
			errs = append(errs, fmt.Errorf("monitor: shutdown: %w", err))
		}
	}
	ls.wg.Wait()
	if ls.errc != nil {
		for done := false; !done; {
			select {
			case err := <-ls.errc:
				errs = append(errs, err)
			default:
				done = true
			}
		}
	}
	return errors.Join(errs...)
}

// Serve is Start, then a wait until ctx is done or a server fails, then a
// graceful Shutdown bounded by Config.ShutdownTimeout. It returns the bind
// error, the serve failure, or the shutdown error; nil after a clean stop.
func (m *Monitor) Serve(ctx context.Context, httpAddr, httpsAddr string, tlsCfg *tls.Config) error {
	if err := m.Start(httpAddr, httpsAddr, tlsCfg); err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-m.listeners.errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, m.Shutdown(sctx))
}
