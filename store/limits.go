package store

import "time"

// ChannelLimits are the limits of one channel. In Limits.ChannelLimits (the
// global values) 0 means unlimited. In a per-channel entry 0 means "inherit"
// and -1 means unlimited (the config file's per-channel 0 is stored as -1).
type ChannelLimits struct {
	MaxMsgs          int
	MaxBytes         int64
	MaxAge           time.Duration
	MaxSubscriptions int
	MaxInactivity    time.Duration
}

// Limits are the limits a store enforces.
type Limits struct {
	// MaxChannels is the maximum number of channels; 0 is unlimited.
	MaxChannels int
	// ChannelLimits are the global per-channel limits.
	ChannelLimits
	// PerChannel holds per-channel overrides keyed by channel name; names
	// may hold wildcards (foo.*, foo.>) as whole tokens, '>' last.
	PerChannel map[string]*ChannelLimits
}
