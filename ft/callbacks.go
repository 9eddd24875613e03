package ft

import "context"

// Callbacks connect the elector to the workload (the STAN server and its
// store). They are symmetric: every OnPromote call is followed by exactly
// one OnDemote call, and the lock is released only after OnDemote returns.
type Callbacks struct {
	// OnPromote is called in its own goroutine once this member holds the
	// lock with epoch e (state Recovering). It must recover the store,
	// start serving clients and then return nil (state Active), or return
	// an error (the elector demotes and Run returns an error wrapping
	// ErrPromote). ctx is cancelled when demotion starts, which can happen
	// while OnPromote still runs (shutdown, lost lock during a long
	// recovery); OnPromote must then return promptly. Required.
	OnPromote func(ctx context.Context, e Epoch) error
	// OnDemote is called from Run's goroutine, exactly once per OnPromote
	// call, after OnPromote has returned and its ctx was cancelled. It
	// must stop serving, flush and close the store, and return: the
	// elector releases the lock only after OnDemote returns, so a standby
	// that acquires it next sees everything this member acknowledged.
	// reason is ErrStopping, ErrSteppedDown, ErrDisconnected, OnPromote's
	// error, or a fencing cause (an error wrapping ErrLockLost, a
	// *ActiveElsewhereError, or the lock's I/O error): with a fencing cause
	// the store may refuse to flush (Fence fails), which is intended.
	// Required.
	OnDemote func(reason error)
	// OnNewActive is called from Run's goroutine when a heartbeat names
	// another member as active and that member differs from the previous
	// one seen. Optional. It must not block.
	OnNewActive func(serverID string)
}
