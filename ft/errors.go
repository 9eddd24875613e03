package ft

import (
	"errors"
	"fmt"
)

// Sentinel errors of package ft. Match them with errors.Is.
var (
	// ErrLockHeld: another member holds the lock; try again later.
	ErrLockHeld = errors.New("ft: lock held")
	// ErrLockLost: this member no longer holds the lock it acquired (lock
	// released behind its back, lock file deleted or replaced, or a newer
	// epoch was stored by another holder).
	ErrLockLost = errors.New("ft: lock lost")
	// ErrLockFatal: the lock cannot be taken and retrying at once will not
	// help (missing directory, permission denied, read-only filesystem).
	// The elector logs it and retries every missed interval (SPEC §8.4).
	ErrLockFatal = errors.New("ft: fatal lock error")
	// ErrFenced: Run's result when this member stopped being active because
	// it could no longer prove it holds the lock, or saw an active with a
	// newer (or equal) epoch. The process must exit without writing more.
	ErrFenced = errors.New("ft: fenced")
	// ErrPromote: Run's result when OnPromote failed (for example a corrupt
	// datastore or a cluster ID mismatch found during recovery).
	ErrPromote = errors.New("ft: promotion failed")
	// ErrNotConnected: a Beacon could not send because it is not connected.
	ErrNotConnected = errors.New("ft: beacon not connected")
	// ErrDisconnected: the reason passed to OnDemote when the active stood
	// down after losing its NATS connection for longer than
	// MissedHeartbeatTimeout.
	ErrDisconnected = errors.New("ft: disconnected from NATS for too long")
	// ErrSteppedDown: the reason passed to OnDemote after StepDown or a
	// step-down request.
	ErrSteppedDown = errors.New("ft: stepped down")
	// ErrStopping: the reason passed to OnDemote when Run's context is
	// cancelled (graceful shutdown).
	ErrStopping = errors.New("ft: stopping")
	// ErrAlreadyRunning: Run was called twice.
	ErrAlreadyRunning = errors.New("ft: elector already running")
	// ErrInvalidConfig: wrapped by every *ConfigError.
	ErrInvalidConfig = errors.New("ft: invalid config")
	// ErrMalformedMessage: bytes on the FT subject that are not a valid
	// stanft FT message.
	ErrMalformedMessage = errors.New("ft: malformed FT message")
	// ErrForeignMessage: a nats-streaming-server heartbeat on the FT subject
	// (a reference server shares the group, SPEC D11).
	ErrForeignMessage = errors.New("ft: nats-streaming-server heartbeat on the FT subject")
)

// ActiveElsewhereError reports another member that claims to be active with
// an epoch at least as high as ours. The member with the lower epoch stands
// down; with equal epochs (which a working lock never produces) both do.
type ActiveElsewhereError struct {
	ServerID string // the other member
	Epoch    Epoch  // its epoch
	OurEpoch Epoch  // ours
}

func (e *ActiveElsewhereError) Error() string {
	return fmt.Sprintf("ft: serverID %q claims to be active with epoch %d (ours %d)", e.ServerID, e.Epoch, e.OurEpoch)
}

// PromoteError is Run's result when OnPromote failed. It matches
// ErrPromote and OnPromote's error with errors.Is; Err is that error, for
// a caller that reports it as the reference does (`Failed to start: <err>`,
// SPEC §8.6).
type PromoteError struct {
	Epoch Epoch // the epoch of the failed promotion
	Err   error // OnPromote's error
}

func (e *PromoteError) Error() string {
	return fmt.Sprintf("%v: epoch %d: %v", ErrPromote, e.Epoch, e.Err)
}

// Unwrap makes errors.Is match ErrPromote and Err.
func (e *PromoteError) Unwrap() []error { return []error{ErrPromote, e.Err} }

// ConfigError names the Config field that failed validation.
type ConfigError struct {
	Field  string // Go field name, e.g. "MissedHeartbeatTimeout"
	Value  any    // the rejected value
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("ft: invalid config: %s=%v: %s", e.Field, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
