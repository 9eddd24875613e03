package memstore

import (
	"fmt"
	"sync"

	"github.com/stanft/stanft/store"
)

// subStore is the store.SubStore of one channel. Pending sets are not kept:
// nothing is ever recovered from memory.
type subStore struct {
	maxSubs int

	mu     sync.Mutex
	closed bool
	lastID uint64 // last ID handed out; IDs are never reused
	subs   map[uint64]*store.SubState
}

var _ store.SubStore = (*subStore)(nil)

func newSubStore(lim store.ChannelLimits) *subStore {
	return &subStore{maxSubs: lim.MaxSubscriptions, subs: make(map[uint64]*store.SubState)}
}

// CreateSub stores a copy of sub and sets sub.ID.
func (ss *subStore) CreateSub(sub *store.SubState) error {
	if sub == nil {
		return fmt.Errorf("memstore: create sub: nil subscription")
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return store.ErrClosed
	}
	if ss.maxSubs > 0 && len(ss.subs) >= ss.maxSubs {
		return store.ErrTooManySubs
	}
	ss.lastID++
	sub.ID = ss.lastID
	c := *sub
	ss.subs[c.ID] = &c
	return nil
}

// UpdateSub replaces the stored copy of sub.ID; store.ErrNotFound if unknown.
func (ss *subStore) UpdateSub(sub *store.SubState) error {
	if sub == nil {
		return fmt.Errorf("memstore: update sub: nil subscription")
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return store.ErrClosed
	}
	if _, ok := ss.subs[sub.ID]; !ok {
		return fmt.Errorf("memstore: update sub %d: %w", sub.ID, store.ErrNotFound)
	}
	c := *sub
	ss.subs[c.ID] = &c
	return nil
}

// DeleteSub removes a subscription; unknown IDs are ignored.
func (ss *subStore) DeleteSub(subID uint64) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return store.ErrClosed
	}
	delete(ss.subs, subID)
	return nil
}

// AddSeqPending is a no-op (nothing to recover) that fails once closed.
func (ss *subStore) AddSeqPending(subID, seq uint64) error { return ss.check() }

// AckSeqPending is a no-op (nothing to recover) that fails once closed.
func (ss *subStore) AckSeqPending(subID, seq uint64) error { return ss.check() }

// Flush is a no-op that fails once closed.
func (ss *subStore) Flush() error { return ss.check() }

// Close releases the subscriptions. It is idempotent.
func (ss *subStore) Close() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closed = true
	ss.subs = nil
	return nil
}

func (ss *subStore) check() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return store.ErrClosed
	}
	return nil
}
