package ft

import (
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults. Why these values:
//
// The heartbeat interval (1 s) and the missed interval (1.25 s) are the
// reference's (SPEC §8.3), so that the group's traffic and timing on
// _STAN.ft.<cid>.<grp> look the same to operators and tests; D6 makes them
// configurable. Failover speed does not depend on them: a standby polls the
// lock every LockPollInterval (50 ms), so when an active dies the kernel
// frees its flock and a standby holds it within about one poll; a
// gracefully stopping active publishes a step-down notice that makes
// standbys try at once. Heartbeats tell members who is active
// (Status.ActiveID, OnNewActive) and let two actives that should not exist
// see each other. The missed interval bounds how long an active cut off
// from NATS keeps the lock (its connectivity is checked every quarter of
// it, independently of the heartbeat ticks).
const (
	DefaultHeartbeatInterval      = time.Second
	DefaultMissedHeartbeatTimeout = 1250 * time.Millisecond
	DefaultLockPollInterval       = 50 * time.Millisecond
	DefaultLockCheckInterval      = time.Second
	DefaultJitter                 = 0.1
)

// Limits checked by Validate.
const (
	maxInterval = time.Hour
	maxIDLen    = 256
	maxJitter   = 0.5
)

// Config configures an Elector. Start from DefaultConfig and set ID.
type Config struct {
	// ID identifies this member in heartbeats and logs. It must be unique
	// in the group for the life of the process (cmd uses a fresh NUID, like
	// the reference's server ID). Required; at most 256 printable ASCII
	// characters.
	ID string
	// HeartbeatInterval is how often a Recovering or Active member
	// publishes a heartbeat. Default 1s. Must be > 0.
	HeartbeatInterval time.Duration
	// MissedHeartbeatTimeout is how long a silence means "gone": an active
	// whose beacon has been disconnected for longer stands down; a standby
	// forgets the active whose heartbeats stopped for longer; after a
	// step-down this member waits this long before trying the lock again.
	// Default 1.25s. Must be ≥ 1.1 × HeartbeatInterval (the reference's rule).
	MissedHeartbeatTimeout time.Duration
	// LockPollInterval is how often a connected standby tries the lock.
	// Default 50ms. Must be > 0 and ≤ MissedHeartbeatTimeout.
	LockPollInterval time.Duration
	// LockCheckInterval is how often the active checks the lock in
	// addition to the checks before each store flush. Default 1s. Must be
	// > 0 and ≤ 1s (SPEC D5: at least once a second).
	LockCheckInterval time.Duration
	// Jitter spreads every interval above uniformly by ± this fraction so
	// members do not act in lockstep. Default 0.1. Must be in [0, 0.5].
	Jitter float64
	// Logger receives the elector's logs (named "ft"). Default: null logger.
	Logger hclog.Logger
	// Metrics receives observations. Default: NopMetrics.
	Metrics Metrics
}

// DefaultConfig returns the defaults; ID is empty and must be set.
func DefaultConfig() Config {
	return Config{
		HeartbeatInterval:      DefaultHeartbeatInterval,
		MissedHeartbeatTimeout: DefaultMissedHeartbeatTimeout,
		LockPollInterval:       DefaultLockPollInterval,
		LockCheckInterval:      DefaultLockCheckInterval,
		Jitter:                 DefaultJitter,
	}
}

// Validate reports the first invalid field as a *ConfigError. Logger and
// Metrics may be nil (New substitutes the defaults).
func (c Config) Validate() error {
	if c.ID == "" {
		return &ConfigError{Field: "ID", Value: c.ID, Reason: "must not be empty"}
	}
	if len(c.ID) > maxIDLen {
		return &ConfigError{Field: "ID", Value: c.ID, Reason: "longer than 256 bytes"}
	}
	for _, r := range c.ID {
		if r <= ' ' || r > '~' {
			return &ConfigError{Field: "ID", Value: c.ID, Reason: "must be printable ASCII without spaces"}
		}
	}
	if c.HeartbeatInterval <= 0 || c.HeartbeatInterval > maxInterval {
		return &ConfigError{Field: "HeartbeatInterval", Value: c.HeartbeatInterval, Reason: "must be > 0 and ≤ 1h"}
	}
	if c.MissedHeartbeatTimeout <= 0 || c.MissedHeartbeatTimeout > maxInterval {
		return &ConfigError{Field: "MissedHeartbeatTimeout", Value: c.MissedHeartbeatTimeout, Reason: "must be > 0 and ≤ 1h"}
	}
	// Integer form of missed ≥ 1.1 × interval; both are ≤ 1h, so no overflow.
	if int64(c.MissedHeartbeatTimeout)*10 < int64(c.HeartbeatInterval)*11 {
		return &ConfigError{Field: "MissedHeartbeatTimeout", Value: c.MissedHeartbeatTimeout,
			Reason: "must be at least 1.1 × HeartbeatInterval (" + c.HeartbeatInterval.String() + ")"}
	}
	if c.LockPollInterval <= 0 || c.LockPollInterval > c.MissedHeartbeatTimeout {
		return &ConfigError{Field: "LockPollInterval", Value: c.LockPollInterval, Reason: "must be > 0 and ≤ MissedHeartbeatTimeout"}
	}
	if c.LockCheckInterval <= 0 || c.LockCheckInterval > time.Second {
		return &ConfigError{Field: "LockCheckInterval", Value: c.LockCheckInterval, Reason: "must be > 0 and ≤ 1s"}
	}
	if !(c.Jitter >= 0 && c.Jitter <= maxJitter) { // also rejects NaN
		return &ConfigError{Field: "Jitter", Value: c.Jitter, Reason: "must be in [0, 0.5]"}
	}
	return nil
}
