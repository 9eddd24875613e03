package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	natsd "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// natsReadyTimeout is how long the embedded NATS server may take to accept
// connections (SPEC §10.2).
const natsReadyTimeout = 10 * time.Second

// embeddedNATS is the in-process NATS server.
type embeddedNATS struct {
	ns        *natsd.Server
	clientURL string // what the server's own connections use (loopback)
	log       *natsLogger
}

// monitorEnabled reports whether -m or -ms asked for monitoring.
func (o *options) monitorEnabled() bool { return o.NATS.HTTPPort != 0 || o.NATS.HTTPSPort != 0 }

// prepareNATSOptions returns the options the embedded server runs with:
// signals and logging are stanft's, and the NATS server binds no monitoring
// port: with -m/-ms stanft's monitor listens on the user's port and serves
// the NATS endpoints (/varz, ...) itself through monitor.NATSHandler.
func prepareNATSOptions(user *natsd.Options) *natsd.Options {
	nopts := user.Clone()
	nopts.NoSigs = true
	// NoLog: a configuration reload must not replace stanft's logger with
	// nats-server's own (reload re-applies the levels, see reload).
	nopts.NoLog = true
	nopts.HTTPPort = 0
	nopts.HTTPSPort = 0
	// The ports file would lack the monitoring URLs: stanft writes it
	// (writePortsFile).
	nopts.PortsFileDir = ""
	return nopts
}

// startNATS starts the embedded NATS server and waits until it accepts
// connections.
func startNATS(o *options, logs *logging, onFatal func(string)) (*embeddedNATS, error) {
	nopts := prepareNATSOptions(o.NATS)
	ns, err := natsd.NewServer(nopts)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	adapter := &natsLogger{log: logs.nats, onFatal: onFatal}
	ns.SetLoggerV2(adapter, nopts.Debug, nopts.Trace, nopts.TraceVerbose)
	ns.Start()
	host, port := nopts.Host, nopts.Port
	if host == "" {
		host = natsd.DEFAULT_HOST
	}
	if port == 0 {
		port = natsd.DEFAULT_PORT
	}
	// Wait until ready; a fatal NATS log (e.g. the port is in use) ends the
	// wait early.
	deadline := time.Now().Add(natsReadyTimeout)
	for !ns.ReadyForConnections(50 * time.Millisecond) {
		if msg := adapter.fatalMsg.Load(); msg != nil || time.Now().After(deadline) {
			ns.Shutdown()
			ns.WaitForShutdown()
			if msg != nil {
				return nil, fmt.Errorf("unable to start a NATS Server on %s:%d: %s", host, port, *msg)
			}
			return nil, fmt.Errorf("unable to start a NATS Server on %s:%d", host, port)
		}
	}
	addr, ok := ns.Addr().(*net.TCPAddr)
	if !ok {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("unable to start a NATS Server on %s:%d", host, port)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	scheme := "nats"
	if nopts.TLSConfig != nil {
		scheme = "tls"
	}
	return &embeddedNATS{
		ns:        ns,
		clientURL: fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(host, strconv.Itoa(addr.Port))),
		log:       adapter,
	}, nil
}

// reload re-reads the NATS configuration file (SIGHUP), applies the command
// line flags over it as nats-server does, and keeps stanft's own settings.
func (e *embeddedNATS) reload(user *natsd.Options) error {
	if user.ConfigFile == "" {
		return errors.New("can only reload config when a file is provided using -c or --config")
	}
	fileOpts, err := natsd.ProcessConfigFile(user.ConfigFile)
	if err != nil {
		return err
	}
	merged := natsd.MergeOptions(fileOpts, natsd.FlagSnapshot)
	// Keep the monitoring ports the user asked for, then apply stanft's.
	merged.HTTPPort, merged.HTTPSPort, merged.HTTPHost = user.HTTPPort, user.HTTPSPort, user.HTTPHost
	nopts := prepareNATSOptions(merged)
	// ReloadOptions merges the command line (natsd.FlagSnapshot) over nopts
	// once more. The -m/-ms ports there belong to stanft's monitor and the
	// ports file is stanft's: the embedded server runs without them, and a
	// reload must not add them back (nats-server refuses to change them on
	// reload).
	if fs := natsd.FlagSnapshot; fs != nil {
		fs.HTTPPort, fs.HTTPSPort, fs.PortsFileDir = 0, 0, ""
	}
	if err := e.ns.ReloadOptions(nopts); err != nil {
		return err
	}
	// Apply the (possibly changed) NATS debug and trace levels.
	e.log.log.SetLevel(natsLevel(nopts))
	e.ns.SetLoggerV2(e.log, nopts.Debug, nopts.Trace, nopts.TraceVerbose)
	return nil
}

// shutdown stops the embedded server and waits for it.
func (e *embeddedNATS) shutdown() {
	if e == nil {
		return
	}
	e.ns.Shutdown()
	e.ns.WaitForShutdown()
}

// natsConnOptions are the options of the server's own NATS connections
// (SPEC §10.2): the NATS --user/--pass/--auth first, else the streaming
// username/password/token, credentials or nkey seed; TLS from -secure and
// -tls_client_*.
func natsConnOptions(o *options, embeddedTLS bool) ([]nats.Option, error) {
	var opts []nats.Option
	c := o.NATSClient
	switch {
	case o.NATS.Username != "":
		opts = append(opts, nats.UserInfo(o.NATS.Username, o.NATS.Password))
	case o.NATS.Authorization != "":
		opts = append(opts, nats.Token(o.NATS.Authorization))
	case c.Username != "":
		opts = append(opts, nats.UserInfo(c.Username, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	}
	if c.Credentials != "" {
		opts = append(opts, nats.UserCredentials(c.Credentials))
	}
	if c.NKeySeedFile != "" {
		nko, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nkey_seed_file: %w", err)
		}
		opts = append(opts, nko)
	}
	tlsConf, err := clientTLSConfig(c, embeddedTLS)
	if err != nil {
		return nil, err
	}
	if tlsConf != nil {
		opts = append(opts, nats.Secure(tlsConf))
	}
	return opts, nil
}

// clientTLSConfig builds the TLS configuration of the server's NATS
// connections, or nil for plain connections. With an embedded NATS server
// that uses TLS and no client TLS settings, the loopback connection to our
// own in-process server skips verification.
func clientTLSConfig(c natsClientOptions, embeddedTLS bool) (*tls.Config, error) {
	if !c.Secure && c.TLSClientCert == "" && c.TLSClientCA == "" && !c.TLSSkipVerify && !embeddedTLS {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
	if c.Secure || c.TLSSkipVerify || (embeddedTLS && c.TLSClientCA == "") {
		conf.InsecureSkipVerify = true
	}
	if c.TLSClientCert != "" || c.TLSClientKey != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSClientCert, c.TLSClientKey)
		if err != nil {
			return nil, fmt.Errorf("tls_client_cert/tls_client_key: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if c.TLSClientCA != "" {
		pem, err := os.ReadFile(c.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("tls_client_cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_client_cacert: no certificate found in %s", c.TLSClientCA)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}
