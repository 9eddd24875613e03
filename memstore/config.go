package memstore

import (
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/store"
)

// Config configures a memory store.
type Config struct {
	// Limits are the limits the store enforces. Default store.DefaultLimits().
	// The zero value means "no limits at all".
	Limits store.Limits
	// Logger receives the limit warnings. Default: a null logger.
	Logger hclog.Logger
}

// DefaultConfig returns a Config with the default limits and no logger.
func DefaultConfig() Config {
	return Config{Limits: store.DefaultLimits()}
}

// Validate checks the limits.
func (c *Config) Validate() error {
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}
