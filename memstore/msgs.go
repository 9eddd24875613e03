package memstore

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// minRing is the smallest ring capacity; always a power of two.
const minRing = 64

type entry struct {
	msg  *pb.MsgProto
	size uint64
}

// msgStore is the store.MsgStore of one channel: a ring of messages in
// sequence order. Sequences are normally contiguous, so Lookup indexes the
// ring by offset from the first sequence and falls back to a binary search
// when the caller skipped sequences.
type msgStore struct {
	name string
	lim  store.ChannelLimits
	log  hclog.Logger

	mu     sync.RWMutex
	closed bool
	ring   []entry // len is a power of two
	head   int     // index of the oldest message
	n      int     // messages stored
	first  uint64  // oldest stored sequence; last+1 once all expired
	last   uint64  // newest sequence ever stored; 0 if none
	bytes  uint64
	warned bool // the limits warning is logged once per channel

	// Age expiry: one goroutine per channel with MaxAge, sleeping on a timer
	// set to the next expiry. armed is true while the loop knows about the
	// oldest message; Store kicks it when a message arrives in an empty log.
	armed bool
	kick  chan struct{}
	quit  chan struct{}
	done  chan struct{}
}

var _ store.MsgStore = (*msgStore)(nil)

func newMsgStore(name string, lim store.ChannelLimits, log hclog.Logger) *msgStore {
	ms := &msgStore{
		name: name,
		lim:  lim,
		log:  log,
		ring: make([]entry, minRing),
	}
	if lim.MaxAge > 0 {
		ms.kick = make(chan struct{}, 1)
		ms.quit = make(chan struct{})
		ms.done = make(chan struct{})
		go ms.expireLoop()
	}
	return ms
}

func (ms *msgStore) at(i int) *entry { return &ms.ring[(ms.head+i)&(len(ms.ring)-1)] }

// Store appends m, taking ownership of it, then drops the oldest messages
// beyond MaxMsgs/MaxBytes, always keeping m.
func (ms *msgStore) Store(m *pb.MsgProto) error {
	if m == nil {
		return fmt.Errorf("memstore: store in %q: nil message", ms.name)
	}
	size := uint64(m.Size())
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed {
		return store.ErrClosed
	}
	if m.Sequence <= ms.last {
		return nil // already stored (or older): ignored by contract
	}
	if ms.n == len(ms.ring) {
		ms.resize(2 * len(ms.ring))
	}
	if ms.n == 0 {
		ms.first = m.Sequence
	}
	*ms.at(ms.n) = entry{msg: m, size: size}
	ms.n++
	ms.last = m.Sequence
	ms.bytes += size
	ms.enforceLimits()
	if ms.kick != nil && !ms.armed {
		ms.armed = true
		select {
		case ms.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (ms *msgStore) enforceLimits() {
	if ms.n <= 1 || !ms.lim.Exceeded(ms.n, ms.bytes) {
		return
	}
	for ms.n > 1 && ms.lim.Exceeded(ms.n, ms.bytes) {
		ms.removeOldest()
		if !ms.warned {
			ms.warned = true
			ms.log.Warn(store.LimitsReachedMessage(ms.name, ms.n, ms.bytes, ms.lim))
		}
	}
	if ms.n < len(ms.ring)/4 && len(ms.ring) > minRing {
		ms.resize(len(ms.ring) / 2)
	}
}

func (ms *msgStore) removeOldest() {
	e := ms.at(0)
	ms.bytes -= e.size
	*e = entry{}
	ms.head = (ms.head + 1) & (len(ms.ring) - 1)
	ms.n--
	if ms.n > 0 {
		ms.first = ms.at(0).msg.Sequence
	} else {
		ms.first = ms.last + 1
	}
}

// resize moves the ring into a new one of capacity c (a power of two >= n).
func (ms *msgStore) resize(c int) {
	r := make([]entry, c)
	for i := 0; i < ms.n; i++ {
		r[i] = *ms.at(i)
	}
	ms.ring, ms.head = r, 0
}

// Lookup returns the stored message with that sequence or (nil, nil).
func (ms *msgStore) Lookup(seq uint64) (*pb.MsgProto, error) {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	if ms.closed {
		return nil, store.ErrClosed
	}
	if ms.n == 0 || seq < ms.first || seq > ms.last {
		return nil, nil
	}
	if off := seq - ms.first; off < uint64(ms.n) {
		if e := ms.at(int(off)); e.msg.Sequence == seq {
			return e.msg, nil
		}
	}
	i := sort.Search(ms.n, func(i int) bool { return ms.at(i).msg.Sequence >= seq })
	if i < ms.n && ms.at(i).msg.Sequence == seq {
		return ms.at(i).msg, nil
	}
	return nil, nil
}

// FirstAndLastSequence returns (0, 0) if nothing was ever stored, and
// (last+1, last) once every message expired.
func (ms *msgStore) FirstAndLastSequence() (uint64, uint64, error) {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	if ms.closed {
		return 0, 0, store.ErrClosed
	}
	return ms.first, ms.last, nil
}

// GetSequenceFromTimestamp returns the first stored sequence whose timestamp
// is >= ts, 0 if nothing was ever stored and last+1 if every stored message
// is older (or none is left).
func (ms *msgStore) GetSequenceFromTimestamp(ts int64) (uint64, error) {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	if ms.closed {
		return 0, store.ErrClosed
	}
	if ms.last == 0 {
		return 0, nil
	}
	i := sort.Search(ms.n, func(i int) bool { return ms.at(i).msg.Timestamp >= ts })
	if i == ms.n {
		return ms.last + 1, nil
	}
	return ms.at(i).msg.Sequence, nil
}

// State returns the number of messages and their marshalled size.
func (ms *msgStore) State() (int, uint64, error) {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	if ms.closed {
		return 0, 0, store.ErrClosed
	}
	return ms.n, ms.bytes, nil
}

// Flush is a no-op that fails once closed.
func (ms *msgStore) Flush() error {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	if ms.closed {
		return store.ErrClosed
	}
	return nil
}

// Close releases the messages and stops the expiry goroutine. Idempotent.
func (ms *msgStore) Close() error {
	ms.mu.Lock()
	if ms.closed {
		ms.mu.Unlock()
		return nil
	}
	ms.closed = true
	ms.ring, ms.n, ms.head = nil, 0, 0
	ms.mu.Unlock()
	if ms.quit != nil {
		close(ms.quit)
		<-ms.done
	}
	return nil
}

// expireLoop removes messages older than MaxAge. The timer is set to the
// expiry of the oldest message; it is idle while the log is empty.
func (ms *msgStore) expireLoop() {
	defer close(ms.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-ms.quit:
			return
		case <-ms.kick:
		case <-t.C:
		}
		if next := ms.expire(time.Now().UnixNano()); next > 0 {
			t.Reset(next)
		}
	}
}

// expire drops the messages whose age is >= MaxAge at now and returns the
// time until the next one expires, 0 if the log is empty (disarmed).
func (ms *msgStore) expire(now int64) time.Duration {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed {
		return 0
	}
	maxAge := int64(ms.lim.MaxAge)
	for ms.n > 0 && now-ms.at(0).msg.Timestamp >= maxAge {
		ms.removeOldest()
	}
	if ms.n < len(ms.ring)/4 && len(ms.ring) > minRing {
		ms.resize(max(minRing, len(ms.ring)/2))
	}
	if ms.n == 0 {
		ms.armed = false
		return 0
	}
	return time.Duration(ms.at(0).msg.Timestamp + maxAge - now)
}
