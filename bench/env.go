package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/stanft/stanft/filestore"
	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/store"
)

// startNATS runs an embedded NATS server on a random loopback port.
func startNATS() (*natsserver.Server, error) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, fmt.Errorf("bench: nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("bench: nats server not ready")
	}
	return ns, nil
}

// storeKind selects the store of a stanft server under test.
type storeKind struct {
	name   string // MEMORY, FILE fsync on, FILE fsync off
	file   bool
	doSync bool
	// maxMsgs is the per-channel message limit; 0 is unlimited.
	maxMsgs int
	// bin, in the process layout, is another server binary accepting
	// nats-streaming-server's flags (-reference); "" is stanft.
	bin string
}

var (
	kindMemory   = storeKind{name: "MEMORY"}
	kindFileSync = storeKind{name: "FILE fsync on", file: true, doSync: true}
	kindFileNo   = storeKind{name: "FILE fsync off", file: true}
)

// stanServer is an in-process stanft server on one store.
type stanServer struct {
	srv *server.Server
	st  store.Store
	cid string
}

// benchLimits lifts the channel, message and byte limits so the recovery
// datasets fit.
func benchLimits() store.Limits {
	l := store.DefaultLimits()
	l.MaxChannels = 0
	l.MaxMsgs = 0
	l.MaxBytes = 0
	return l
}

func openStore(k storeKind, dir string) (store.Store, error) {
	limits := benchLimits()
	limits.MaxMsgs = k.maxMsgs
	if !k.file {
		cfg := memstore.DefaultConfig()
		cfg.Limits = limits
		return memstore.New(cfg)
	}
	cfg := filestore.DefaultConfig()
	cfg.DoSync = k.doSync
	cfg.Limits = limits
	return filestore.Open(dir, cfg)
}

// startServer starts a standalone stanft server with cluster ID cid on the
// NATS server at natsURL; dir is the datastore for FILE.
func startServer(k storeKind, natsURL, cid, dir string, metrics server.Metrics) (*stanServer, error) {
	st, err := openStore(k, dir)
	if err != nil {
		return nil, fmt.Errorf("bench: open %s store: %w", k.name, err)
	}
	cfg := server.DefaultConfig()
	cfg.ClusterID = cid
	cfg.NATSURL = natsURL
	cfg.Logger = hclog.NewNullLogger()
	cfg.Metrics = metrics
	srv, err := server.New(cfg, st)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("bench: new server: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Activate(ctx); err != nil {
		_ = srv.Close()
		_ = st.Close()
		return nil, fmt.Errorf("bench: activate: %w", err)
	}
	return &stanServer{srv: srv, st: st, cid: cid}, nil
}

func (s *stanServer) close() {
	_ = s.srv.Close()
	_ = s.st.Close()
}
