package ft

import (
	"context"
	"strconv"
)

// Epoch is the fencing token of an activation. Every successful
// Lock.TryAcquire returns a value strictly greater than any epoch returned
// before it for the same lock (it is stored durably next to the lock), so
// "higher epoch" means "acquired later". Epoch 0 means "never acquired".
type Epoch uint64

// String returns the decimal form of e.
func (e Epoch) String() string { return strconv.FormatUint(uint64(e), 10) }

// Lock is the group's exclusive lock: the single source of truth for which
// member may write the datastore. Heartbeats only speed things up; they never
// grant the right to write.
//
// Contract:
//   - TryAcquire never blocks waiting for another holder. It returns
//     (epoch, nil) when this instance now holds the lock and has durably
//     stored epoch (greater than every earlier epoch) before returning; an
//     error wrapping ErrLockHeld when another holder has it (transient:
//     retry later); an error wrapping ErrLockFatal when retrying cannot help
//     (missing directory, permission denied: the error names the path); any
//     other error is a failed attempt that may be retried.
//   - Check returns nil only if this instance still holds the lock, the lock
//     is still the one it acquired (not deleted or replaced) and the stored
//     epoch is still its own. Otherwise it returns an error wrapping
//     ErrLockLost (or the I/O error that prevented the check: callers treat
//     every non-nil result as "not safe to write"). Check must be cheap: the
//     active calls it before every durable store batch.
//   - Release gives the lock up. It is called only after the holder has
//     stopped writing. Release of a lock that is not held is a no-op.
//   - Describe names the lock for logs ("flock /data/stanft.lock").
//
// Implementations must be safe for concurrent use: Check is called from the
// store's flush path while the elector calls the other methods.
type Lock interface {
	TryAcquire(ctx context.Context) (Epoch, error)
	Check(ctx context.Context) error
	Release(ctx context.Context) error
	Describe() string
}
