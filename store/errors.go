package store

import "errors"

// Errors returned by stores. The texts of ErrTooManyChannels and
// ErrTooManySubs are sent to clients verbatim (SPEC §6).
var (
	ErrTooManyChannels = errors.New("too many channels")
	ErrTooManySubs     = errors.New("too many subscriptions per channel")
	ErrAlreadyExists   = errors.New("store: already exists")
	ErrNotFound        = errors.New("store: not found")
	ErrClosed          = errors.New("store: closed")
	// ErrFenced is returned, wrapped, by a store whose fencing check (the
	// FT Fence hook) failed: this process may no longer write the
	// datastore, and every later write fails with it.
	ErrFenced = errors.New("store: fenced")
)
