package filestore

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"

	"github.com/stanft/stanft/store"
)

// subStore is the store.SubStore of one channel, backed by subs.log. Every
// change is appended as a record; Flush makes them durable. The live state
// (subscriptions and their pending sets) is kept in memory for compaction.
type subStore struct {
	s       *Store
	ch      *channel
	maxSubs int

	mu      sync.Mutex
	closed  bool
	log     appendLog
	maxID   uint64
	subs    map[uint64]*subEntry
	pending int // total size of the pending sets
}

type subEntry struct {
	st      store.SubState
	pending map[uint64]struct{}
}

var _ store.SubStore = (*subStore)(nil)

func newSubStore(s *Store, ch *channel, lim store.ChannelLimits) *subStore {
	return &subStore{
		s:       s,
		ch:      ch,
		maxSubs: lim.MaxSubscriptions,
		log:     appendLog{s: s, path: filepath.Join(ch.dir, subsFile)},
		subs:    make(map[uint64]*subEntry),
	}
}

func (ss *subStore) check() error {
	if ss.closed {
		return store.ErrClosed
	}
	return ss.s.fenced()
}

// add queues a record and writes the buffer out once it is full. A failed
// early write is not reported here: the records stay queued and the next
// Flush retries them and reports the error.
func (ss *subStore) add(typ byte, payload []byte) error {
	ss.log.add(typ, payload)
	if len(ss.log.buf) >= ss.s.cfg.BufferSize {
		if err := ss.log.write(); err != nil {
			ss.s.log.Warn("writing subscription records failed; retried at the next flush",
				"channel", ss.ch.name, "error", err)
		}
	}
	return nil
}

// CreateSub assigns the next ID to sub and stores it; durable after Flush.
func (ss *subStore) CreateSub(sub *store.SubState) error {
	if sub == nil {
		return fmt.Errorf("filestore: create sub: nil subscription")
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err := ss.check(); err != nil {
		return err
	}
	if ss.maxSubs > 0 && len(ss.subs) >= ss.maxSubs {
		return store.ErrTooManySubs
	}
	ss.maxID++
	sub.ID = ss.maxID
	ss.subs[sub.ID] = &subEntry{st: *sub, pending: make(map[uint64]struct{})}
	return ss.add(recSubState, encodeSub(sub))
}

// UpdateSub replaces the stored state of sub.ID (store.ErrNotFound if
// unknown); its pending set is kept.
func (ss *subStore) UpdateSub(sub *store.SubState) error {
	if sub == nil {
		return fmt.Errorf("filestore: update sub: nil subscription")
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err := ss.check(); err != nil {
		return err
	}
	e, ok := ss.subs[sub.ID]
	if !ok {
		return fmt.Errorf("filestore: update sub %d: %w", sub.ID, store.ErrNotFound)
	}
	e.st = *sub
	return ss.add(recSubState, encodeSub(sub))
}

// DeleteSub removes a subscription and its pending set; unknown IDs are
// ignored.
func (ss *subStore) DeleteSub(subID uint64) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err := ss.check(); err != nil {
		return err
	}
	if !ss.remove(subID) {
		return nil
	}
	return ss.add(recSubDel, uvarints(subID))
}

// AddSeqPending records that seq was sent; unknown IDs are ignored.
func (ss *subStore) AddSeqPending(subID, seq uint64) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err := ss.check(); err != nil {
		return err
	}
	e, ok := ss.subs[subID]
	if !ok {
		return nil
	}
	ss.markSent(e, seq)
	return ss.add(recSubSent, uvarints(subID, seq))
}

// AckSeqPending records that seq was acknowledged; unknown IDs and
// sequences that are not pending are ignored.
func (ss *subStore) AckSeqPending(subID, seq uint64) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err := ss.check(); err != nil {
		return err
	}
	e, ok := ss.subs[subID]
	if !ok || !ss.markAcked(e, seq) {
		return nil
	}
	return ss.add(recSubAck, uvarints(subID, seq))
}

// markSent adds seq to the pending set of e and raises its LastSent. The
// live path and replay share it so that recovery rebuilds the same state.
func (ss *subStore) markSent(e *subEntry, seq uint64) {
	e.st.LastSent = max(e.st.LastSent, seq)
	if _, dup := e.pending[seq]; !dup {
		e.pending[seq] = struct{}{}
		ss.pending++
	}
}

// markAcked removes seq from the pending set of e and reports whether it was
// pending.
func (ss *subStore) markAcked(e *subEntry, seq uint64) bool {
	if _, ok := e.pending[seq]; !ok {
		return false
	}
	delete(e.pending, seq)
	ss.pending--
	return true
}

// remove drops subscription id and its pending set and reports whether it
// was known.
func (ss *subStore) remove(id uint64) bool {
	e, ok := ss.subs[id]
	if !ok {
		return false
	}
	ss.pending -= len(e.pending)
	delete(ss.subs, id)
	return true
}

// Flush writes and (with DoSync) fsyncs every queued record. On failure the
// records stay queued and the next Flush retries them.
func (ss *subStore) Flush() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err := ss.check(); err != nil {
		return err
	}
	if err := ss.log.flush(ss.s.cfg.DoSync); err != nil {
		return fmt.Errorf("filestore: channel %q: flush subscriptions: %w", ss.ch.name, err)
	}
	ss.maybeCompact()
	return nil
}

// sync writes and fsyncs queued records whatever DoSync says (auto-sync).
func (ss *subStore) sync() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err := ss.check(); err != nil {
		return err
	}
	return ss.log.flush(true)
}

// writeOut hands queued records to the OS without fsync (called by
// MsgStore.Flush so that sent/ack records never lag past a flush).
func (ss *subStore) writeOut() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil
	}
	return ss.log.write()
}

func (ss *subStore) liveRecords() int { return 1 + len(ss.subs) + ss.pending }

func (ss *subStore) maybeCompact() {
	if !ss.log.shouldCompact(ss.liveRecords()) {
		return
	}
	data := ss.snapshot()
	if err := ss.log.replace(data, ss.liveRecords()); err != nil {
		ss.s.log.Error("compacting subscriptions failed", "channel", ss.ch.name, "error", err)
		return
	}
	ss.s.log.Debug("compacted subscriptions", "channel", ss.ch.name, "subs", len(ss.subs), "pending", ss.pending)
}

// snapshot encodes the live state: the highest ID, then each subscription
// and its pending sequences, in ID order.
func (ss *subStore) snapshot() []byte {
	data := appendFrame(nil, ss.s.tab, recSubMaxID, uvarints(ss.maxID))
	ids := make([]uint64, 0, len(ss.subs))
	for id := range ss.subs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		e := ss.subs[id]
		data = appendFrame(data, ss.s.tab, recSubState, encodeSub(&e.st))
		seqs := make([]uint64, 0, len(e.pending))
		for seq := range e.pending {
			seqs = append(seqs, seq)
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		for _, seq := range seqs {
			data = appendFrame(data, ss.s.tab, recSubSent, uvarints(id, seq))
		}
	}
	return data
}

// recovered returns the recovered subscriptions in ID order.
func (ss *subStore) recovered() []*store.RecoveredSub {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]*store.RecoveredSub, 0, len(ss.subs))
	for _, e := range ss.subs {
		st := e.st
		p := make(map[uint64]struct{}, len(e.pending))
		for seq := range e.pending {
			p[seq] = struct{}{}
		}
		out = append(out, &store.RecoveredSub{Sub: &st, Pending: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sub.ID < out[j].Sub.ID })
	return out
}

// apply replays one subs.log record (recovery).
func (ss *subStore) apply(typ byte, payload []byte) error {
	switch typ {
	case recSubMaxID:
		d := dec{b: payload}
		id := d.uvarint()
		if err := d.done(); err != nil {
			return err
		}
		ss.maxID = max(ss.maxID, id)
	case recSubState:
		st, err := decodeSub(payload)
		if err != nil {
			return err
		}
		ss.maxID = max(ss.maxID, st.ID)
		if e, ok := ss.subs[st.ID]; ok {
			st.LastSent = max(st.LastSent, e.st.LastSent)
			e.st = *st
		} else {
			ss.subs[st.ID] = &subEntry{st: *st, pending: make(map[uint64]struct{})}
		}
	case recSubDel:
		d := dec{b: payload}
		id := d.uvarint()
		if err := d.done(); err != nil {
			return err
		}
		ss.maxID = max(ss.maxID, id)
		ss.remove(id)
	case recSubSent, recSubAck:
		d := dec{b: payload}
		id, seq := d.uvarint(), d.uvarint()
		if err := d.done(); err != nil {
			return err
		}
		e, ok := ss.subs[id]
		if !ok {
			return nil
		}
		if typ == recSubSent {
			ss.markSent(e, seq)
		} else {
			ss.markAcked(e, seq)
		}
	default:
		return errBadType
	}
	ss.log.records++
	return nil
}

// Close writes and fsyncs queued records and closes the file. Idempotent.
func (ss *subStore) Close() error { return ss.close(true) }

func (ss *subStore) close(sync bool) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil
	}
	ss.closed = true
	if ss.s.fenced() != nil {
		sync = false
	}
	err := ss.log.close(sync)
	ss.subs = nil
	return err
}

func encodeSub(s *store.SubState) []byte {
	var e enc
	e.uvarint(s.ID)
	e.str(s.ClientID)
	e.str(s.QGroup)
	e.str(s.Inbox)
	e.str(s.AckInbox)
	e.varint(int64(s.MaxInFlight))
	e.varint(int64(s.AckWaitInSecs))
	e.str(s.DurableName)
	e.uvarint(s.LastSent)
	var flags uint64
	if s.IsDurable {
		flags |= 1
	}
	if s.IsClosed {
		flags |= 2
	}
	e.uvarint(flags)
	return e.b
}

func decodeSub(b []byte) (*store.SubState, error) {
	d := dec{b: b}
	s := &store.SubState{
		ID:            d.uvarint(),
		ClientID:      d.str(),
		QGroup:        d.str(),
		Inbox:         d.str(),
		AckInbox:      d.str(),
		MaxInFlight:   d.int32(),
		AckWaitInSecs: d.int32(),
		DurableName:   d.str(),
		LastSent:      d.uvarint(),
	}
	flags := d.uvarint()
	s.IsDurable = flags&1 != 0
	s.IsClosed = flags&2 != 0
	return s, d.done()
}
