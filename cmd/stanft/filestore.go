package main

import (
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/filestore"
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
