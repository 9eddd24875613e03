package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/filestore"
	"github.com/stanft/stanft/ft"
	"github.com/stanft/stanft/ft/filelock"
	"github.com/stanft/stanft/monitor"
	"github.com/stanft/stanft/store"
)

// openFileStore opens the FILE store in o.Dir. fence is the FT fencing check
// (nil when standalone). The store still has to be recovered (the server
// does it on Activate).
func openFileStore(o *options, log hclog.Logger, fence func() error, metrics *monitor.Metrics) (store.Store, error) {
	cfg := fileStoreConfig(o)
	cfg.Logger = log
	cfg.Fence = fence
	if metrics != nil {
		cfg.Metrics = metrics
	}
	return filestore.Open(o.Dir, cfg)
}

// fileStoreConfig maps the file options onto filestore.Config.
func fileStoreConfig(o *options) filestore.Config {
	f := o.File
	cfg := filestore.DefaultConfig()
	cfg.CompactEnabled = f.CompactEnabled
	cfg.CompactFragmentation = f.CompactFragPct
	cfg.CompactInterval = time.Duration(f.CompactInterval) * time.Second
	cfg.CompactMinSize = f.CompactMinSize
	cfg.BufferSize = int(f.BufferSize)
	cfg.DoCRC = f.DoCRC
	cfg.CRCPoly = f.CRCPolynomial
	cfg.DoSync = f.DoSync
	cfg.SliceMaxMsgs = f.SliceMaxMsgs
	cfg.SliceMaxBytes = f.SliceMaxBytes
	cfg.SliceMaxAge = f.SliceMaxAge
	cfg.SliceArchiveScript = f.SliceArchiveScript
	cfg.FDsLimit = f.FDsLimit
	cfg.ParallelRecovery = f.ParallelRecovery
	cfg.TruncateBadEOF = f.TruncateBadEOF
	cfg.ReadBufferSize = int(f.ReadBufferSize)
	cfg.AutoSync = f.AutoSync
	cfg.Limits = o.Limits.Clone()
	return cfg
}

// lockStandalone takes the datastore lock of dir for a standalone server and
// returns its release. The lock is held until the process stops serving.
func lockStandalone(ctx context.Context, dir string, log hclog.Logger) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("datastore directory: %w", err)
	}
	lock, err := filelock.New(filelock.Config{Dir: dir, Logger: log.Named("filelock")})
	if err != nil {
		return nil, err
	}
	if _, err := lock.TryAcquire(ctx); err != nil {
		if errors.Is(err, ft.ErrLockHeld) {
			return nil, fmt.Errorf("the datastore %s is in use by another server (%s is locked)", dir, lock.Describe())
		}
		return nil, err
	}
	return func() {
		if err := lock.Release(context.Background()); err != nil {
			log.Warn("releasing the datastore lock", "error", err)
		}
	}, nil
}
