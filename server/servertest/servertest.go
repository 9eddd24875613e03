// Package servertest starts a stanft server for tests: an embedded NATS
// server on a random loopback port, a memory store, and a server.Server
// activated on them, all stopped by t.Cleanup.
package servertest

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/store"
)

// StartNATS starts an embedded NATS server on a random loopback port and
// returns its client URL. It is shut down at the end of the test.
func StartNATS(t testing.TB) string {
	t.Helper()
	return testenv.StartNATS(t)
}

// Logger returns an hclog logger that writes through the test, so output
// shows only for failing (or verbose) tests.
func Logger(t testing.TB, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   name,
		Level:  hclog.Debug,
		Output: t.Output(),
	})
}

// Config returns server.DefaultConfig with short client heartbeat timings
// suitable for tests and a test logger. NATSURL is left empty.
func Config(t testing.TB) server.Config {
	cfg := server.DefaultConfig()
	cfg.ClientHBInterval = 250 * time.Millisecond
	cfg.ClientHBTimeout = 250 * time.Millisecond
	cfg.ClientHBFailCount = 4
	cfg.Logger = Logger(t, "stanft")
	return cfg
}

// StartServer activates a server with a memory store (default limits).
// When cfg.NATSURL is empty an embedded NATS server is started. It returns
// the server and the NATS URL clients should use.
func StartServer(t testing.TB, cfg server.Config) (*server.Server, string) {
	t.Helper()
	st, err := memstore.New(memstore.DefaultConfig())
	if err != nil {
		t.Fatalf("servertest: memstore: %v", err)
	}
	return StartServerWithStore(t, cfg, st)
}

// StartServerWithStore is StartServer with the given store, which is closed
// at the end of the test after the server.
func StartServerWithStore(t testing.TB, cfg server.Config, st store.Store) (*server.Server, string) {
	t.Helper()
	if cfg.NATSURL == "" {
		cfg.NATSURL = StartNATS(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger(t, "stanft")
	}
	s, err := server.New(cfg, st)
	if err != nil {
		t.Fatalf("servertest: new server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Activate(ctx); err != nil {
		_ = st.Close()
		t.Fatalf("servertest: activate: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("servertest: close server: %v", err)
		}
		_ = st.Close()
	})
	return s, cfg.NATSURL
}
