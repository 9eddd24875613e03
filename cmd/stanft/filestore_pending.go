package main

import (
	"errors"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/monitor"
	"github.com/stanft/stanft/store"
)

// openFileStore opens the FILE store (wired once package filestore builds).
func openFileStore(o *options, log hclog.Logger, fence func() error, metrics *monitor.Metrics) (store.Store, error) {
	return nil, errors.New("FILE store not available in this build")
}
