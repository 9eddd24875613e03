package fttest

import (
	"context"
	"fmt"
	"sync"

	"github.com/stanft/stanft/ft"
)

// MemLock is one in-memory lock shared by several handles (one per
// member), with the fault hooks of a real lock: Expire (the holder's lock
// vanishes, as on an NFS lease loss or a process death), Steal (a rogue
// holder takes it with a newer epoch), Fail (every call fails).
type MemLock struct {
	mu           sync.Mutex
	holder       *LockHandle // nil: free
	stolen       bool        // held by a rogue holder
	epoch        ft.Epoch    // last epoch handed out
	fail         error
	acquisitions int
}

// NewMemLock returns a free lock with epoch 0.
func NewMemLock() *MemLock { return &MemLock{} }

// Handle returns a new ft.Lock for the member called name.
func (m *MemLock) Handle(name string) *LockHandle { return &LockHandle{m: m, name: name} }

// Holder returns the holding member's name, "<stolen>", or "".
func (m *MemLock) Holder() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.stolen:
		return "<stolen>"
	case m.holder != nil:
		return m.holder.name
	}
	return ""
}

// Epoch returns the last epoch handed out.
func (m *MemLock) Epoch() ft.Epoch {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.epoch
}

// Acquisitions counts successful TryAcquire calls (including steals).
func (m *MemLock) Acquisitions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acquisitions
}

// Expire frees the lock without telling the holder: its Check fails from
// now on, and anyone may acquire.
func (m *MemLock) Expire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.holder, m.stolen = nil, false
}

// ExpireIfHeldBy frees the lock if name holds it (a killed process's lock
// is freed by the kernel). It reports whether it did.
func (m *MemLock) ExpireIfHeldBy(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.holder != nil && m.holder.name == name {
		m.holder = nil
		return true
	}
	return false
}

// Steal gives the lock to a rogue holder with a new epoch, which it
// returns. The previous holder's Check fails; nobody can acquire until
// Expire.
func (m *MemLock) Steal() ft.Epoch {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.holder, m.stolen = nil, true
	m.epoch++
	m.acquisitions++
	return m.epoch
}

// Fail makes every TryAcquire and Check return err (nil restores).
func (m *MemLock) Fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// LockHandle is one member's view of a MemLock; it implements ft.Lock.
type LockHandle struct {
	m     *MemLock
	name  string
	epoch ft.Epoch // guarded by m.mu
}

var _ ft.Lock = (*LockHandle)(nil)

// TryAcquire implements ft.Lock.
func (h *LockHandle) TryAcquire(ctx context.Context) (ft.Epoch, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, m.fail
	}
	if m.holder == h {
		return h.epoch, nil
	}
	if m.holder != nil || m.stolen {
		return 0, fmt.Errorf("memlock %s: %w", h.name, ft.ErrLockHeld)
	}
	m.epoch++
	m.acquisitions++
	m.holder, h.epoch = h, m.epoch
	return h.epoch, nil
}

// Check implements ft.Lock.
func (h *LockHandle) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return h.Fence()
}

// Fence is Check without a context.
func (h *LockHandle) Fence() error {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	return h.checkLocked()
}

func (h *LockHandle) checkLocked() error {
	m := h.m
	switch {
	case m.fail != nil:
		return m.fail
	case m.holder != h:
		return fmt.Errorf("memlock %s: not the holder: %w", h.name, ft.ErrLockLost)
	case m.epoch != h.epoch:
		return fmt.Errorf("memlock %s: epoch %d, ours %d: %w", h.name, m.epoch, h.epoch, ft.ErrLockLost)
	}
	return nil
}

// Write runs fn with the holder's epoch atomically with a successful
// fencing check, like a store write that is only made while the lock is
// provably held. It returns the check's error otherwise.
func (h *LockHandle) Write(fn func(ft.Epoch)) error {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := h.checkLocked(); err != nil {
		return err
	}
	fn(h.epoch)
	return nil
}

// Release implements ft.Lock.
func (h *LockHandle) Release(context.Context) error {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.holder == h {
		m.holder = nil
	}
	return nil
}

// Describe implements ft.Lock.
func (h *LockHandle) Describe() string { return "memlock " + h.name }
