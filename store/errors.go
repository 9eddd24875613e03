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
)
