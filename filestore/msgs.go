package filestore

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// Bounded read caches of a channel (see doc.go, "Memory").
const (
	cacheSlots    = 256       // recently stored or read messages
	cacheMaxMsg   = 64 * 1024 // larger messages are not cached
	idxAheadCount = 128       // index entries read at once
	idleRelease   = 10 * time.Second
	// randomReadSize is what a lookup that does not follow the previous
	// one reads (ReadBufferSize is used once reads are sequential).
	randomReadSize = 4096
)

// msgStore is the store.MsgStore of one channel: a sequence of slices. The
// newest records are buffered in wdat/widx until written; see doc.go for the
// durability and rollback rules.
type msgStore struct {
	s             *Store
	ch            *channel
	lim           store.ChannelLimits
	sliceMaxMsgs  int
	sliceMaxBytes int64
	sliceMaxAge   time.Duration

	// wmu serialises writers (Store, Flush, expiry, auto-sync, close), so
	// that an fsync can run without mu and block no reader.
	wmu sync.Mutex

	mu      sync.Mutex
	closed  bool
	slices  []*slice
	nextNum int
	first   uint64 // first live sequence; last+1 when empty
	last    uint64 // last sequence ever stored; 0 if none
	msgs    int
	bytes   uint64
	warned  bool

	wdat        []byte   // buffered dat records of the last slice
	widx        []byte   // buffered index entries of the last slice
	datWritten  int64    // dat bytes of the last slice handed to the OS
	idxWritten  int      // index entries of the last slice handed to the OS
	datSynced   int64    // dat bytes of the last slice fsynced
	toSync      []*slice // rolled slices not fsynced yet
	dirDirty    bool     // slice files were created since the last fsync
	needRepair  bool     // the last slice must be cut back to the written sizes
	rollFirst   bool     // roll to a new slice before the first Store (FT, see detach)
	deferWrites bool     // an early write failed: no more until the next Flush
	dur         durPoint // state as of the last successful flush
	pend        []pendMsg

	cache   [cacheSlots]*pb.MsgProto
	ra      readAhead
	ira     idxAhead
	lastUse time.Time
	// clockLeft counts the Stores that may still use lastUse as the
	// current time; Flush zeroes it, so a batch reads the clock at most
	// once per clockReuse messages.
	clockLeft int
}

// clockReuse bounds the Stores that share one clock reading (see
// msgStore.clockLeft): slice ages need no finer time than a batch.
const clockReuse = 64

// durPoint is what a failed flush rolls back to.
type durPoint struct {
	num       int // last slice number, 0 if none
	count     int
	datSize   int64
	sliceLast uint64
	last      uint64
}

type pendMsg struct {
	seq   uint64
	bytes uint64
}

type readAhead struct {
	num int
	off int64
	buf []byte
}

type idxAhead struct {
	num   int
	start int
	buf   []byte
}

var _ store.MsgStore = (*msgStore)(nil)

func newMsgStore(s *Store, ch *channel, lim store.ChannelLimits) *msgStore {
	ms := &msgStore{
		s:             s,
		ch:            ch,
		lim:           lim,
		sliceMaxMsgs:  s.cfg.SliceMaxMsgs,
		sliceMaxBytes: s.cfg.SliceMaxBytes,
		sliceMaxAge:   s.cfg.SliceMaxAge,
		first:         1,
		lastUse:       time.Now(),
	}
	if ms.sliceMaxMsgs == 0 && ms.sliceMaxBytes == 0 && ms.sliceMaxAge == 0 {
		ms.sliceMaxMsgs = lim.MaxMsgs / 4
		ms.sliceMaxBytes = lim.MaxBytes / 4
		if lim.MaxAge > 0 {
			ms.sliceMaxAge = max(lim.MaxAge/4, time.Second)
		}
	}
	return ms
}

func (ms *msgStore) cur() *slice {
	if len(ms.slices) == 0 {
		return nil
	}
	return ms.slices[len(ms.slices)-1]
}

func (ms *msgStore) writable() error {
	if ms.closed {
		return store.ErrClosed
	}
	return ms.s.fenced()
}

// Store appends m (see store.MsgStore). The record is buffered; it is
// written when the buffer is full and made durable by Flush.
//
// A Store error concerns m alone: earlier buffered messages are kept. A
// write error while writing a full buffer early, or while rolling to a new
// slice, is not Store's to report: the data stays buffered (the file is cut
// back to its last written size), no early write is tried again until the
// next Flush, and that Flush retries the write and reports the error.
func (ms *msgStore) Store(m *pb.MsgProto) error {
	if m == nil {
		return fmt.Errorf("filestore: store in %q: nil message", ms.ch.name)
	}
	ms.wmu.Lock()
	defer ms.wmu.Unlock()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if err := ms.writable(); err != nil {
		return err
	}
	if m.Sequence <= ms.last {
		return nil
	}
	if err := ms.repair(); err != nil {
		return fmt.Errorf("filestore: store in %q: %w", ms.ch.name, err)
	}
	if ms.clockLeft == 0 {
		ms.lastUse = time.Now()
		ms.clockLeft = clockReuse
	}
	ms.clockLeft--
	now := ms.lastUse
	cur, err := ms.current(now)
	if err != nil {
		return err
	}
	size := m.Size()
	start := len(ms.wdat)
	ms.wdat = slices.Grow(ms.wdat, frameHeaderSize+size)[:start+frameHeaderSize+size]
	payload := ms.wdat[start+frameHeaderSize:]
	if _, err := m.MarshalTo(payload); err != nil {
		ms.wdat = ms.wdat[:start]
		return fmt.Errorf("filestore: store in %q: marshal: %w", ms.ch.name, err)
	}
	h := ms.wdat[start : start+frameHeaderSize]
	binary.LittleEndian.PutUint32(h[0:4], uint32(size))
	binary.LittleEndian.PutUint32(h[4:8], frameCRC(ms.s.tab, recMsg, payload))
	h[8] = recMsg
	ms.widx = appendIdx(ms.widx, ms.s.tab, idxEntry{seq: m.Sequence, ts: m.Timestamp, offset: cur.datSize, size: uint32(size)})

	if cur.count == 0 {
		cur.first, cur.firstTS = m.Sequence, m.Timestamp
	}
	cur.count++
	cur.last = m.Sequence
	cur.datSize += int64(frameHeaderSize + size)
	if ms.msgs == 0 {
		ms.first = m.Sequence
	}
	ms.last = m.Sequence
	ms.msgs++
	b := uint64(size) + msgRecordOverhead
	ms.bytes += b
	ms.pend = append(ms.pend, pendMsg{seq: m.Sequence, bytes: b})
	if size <= cacheMaxMsg {
		ms.cache[m.Sequence%cacheSlots] = m
	}
	ms.enforceLimits(true)
	if len(ms.wdat) >= ms.s.cfg.BufferSize && !ms.deferWrites {
		if err := ms.s.fence(); err != nil {
			return nil // sticky: the next Flush fails with it
		}
		if err := ms.writeBuffers(); err != nil {
			ms.writeFailed(err)
		}
	}
	return nil
}

// writeFailed handles a failed early write (see Store): cut the file back
// to its last written size and keep the data buffered for Flush.
func (ms *msgStore) writeFailed(err error) {
	ms.deferWrites = true
	ms.needRepair = true
	_ = ms.repair() // retried before the next write if it fails now
	ms.s.log.Warn("writing messages failed; kept in memory until the next flush", "channel", ms.ch.name, "error", err)
}

// current returns the slice to append to, rolling to a new one when the
// last is full per the slice limits. If rolling fails, the last slice stays
// in use (and its buffer stays unwritten) until the next Flush.
func (ms *msgStore) current(now time.Time) (*slice, error) {
	cur := ms.cur()
	if cur != nil && !ms.rollFirst && (ms.deferWrites || !ms.shouldRoll(cur, now)) {
		return cur, nil
	}
	if err := ms.s.fence(); err != nil {
		return nil, fmt.Errorf("filestore: store in %q: %w", ms.ch.name, err)
	}
	if cur != nil {
		if err := ms.writeBuffers(); err != nil {
			ms.writeFailed(err)
			return cur, nil
		}
	}
	sl, err := ms.newSlice()
	if err != nil {
		if cur != nil {
			ms.deferWrites = true
			ms.s.log.Warn("starting a new slice failed; kept in the current one until the next flush",
				"channel", ms.ch.name, "error", err)
			return cur, nil
		}
		return nil, err
	}
	switch {
	case cur != nil && cur.count == 0:
		// Only rollFirst rolls an empty slice: delete it rather than
		// keep an empty slice that is not the newest.
		ms.slices = ms.slices[:len(ms.slices)-1]
		ms.toSync = slices.DeleteFunc(ms.toSync, func(x *slice) bool { return x == cur })
		cur.remove(ms.s, "")
	case cur != nil:
		ms.toSync = append(ms.toSync, cur)
	}
	ms.rollFirst = false
	ms.slices = append(ms.slices, sl)
	ms.datWritten, ms.idxWritten, ms.datSynced = 0, 0, 0
	ms.dirDirty = true
	return sl, nil
}

// newSlice creates the files of the next slice.
func (ms *msgStore) newSlice() (*slice, error) {
	sl := newSlice(ms.ch.dir, ms.nextNum+1)
	if err := sl.open(ms.s); err != nil {
		return nil, err
	}
	// Leftovers of a failed removal must not be appended to.
	if err := sl.dat.Truncate(0); err != nil {
		_ = sl.closeFiles()
		return nil, fmt.Errorf("filestore: truncate %s: %w", sl.datPath, err)
	}
	if err := sl.idx.Truncate(0); err != nil {
		_ = sl.closeFiles()
		return nil, fmt.Errorf("filestore: truncate %s: %w", sl.idxPath, err)
	}
	ms.nextNum++
	return sl, nil
}

func (ms *msgStore) shouldRoll(cur *slice, now time.Time) bool {
	if cur.count == 0 {
		return false
	}
	return (ms.sliceMaxMsgs > 0 && cur.count >= ms.sliceMaxMsgs) ||
		(ms.sliceMaxBytes > 0 && cur.size() >= ms.sliceMaxBytes) ||
		(ms.sliceMaxAge > 0 && now.UnixNano()-cur.firstTS >= int64(ms.sliceMaxAge))
}

// writeBuffers hands the buffered records of the last slice to the OS. The
// caller has run the fence. On error the caller rolls back.
func (ms *msgStore) writeBuffers() error {
	cur := ms.cur()
	if cur == nil || (len(ms.wdat) == 0 && len(ms.widx) == 0) {
		return nil
	}
	if err := cur.open(ms.s); err != nil {
		return err
	}
	if len(ms.wdat) > 0 {
		if _, err := cur.dat.WriteAt(ms.wdat, ms.datWritten); err != nil {
			return fmt.Errorf("filestore: write %s at %d: %w", cur.datPath, ms.datWritten, err)
		}
	}
	// The index is written after the data it points to: recovery trusts
	// the dat file and rebuilds index entries it lacks.
	if len(ms.widx) > 0 {
		off := int64(ms.idxWritten) * idxEntrySize
		if _, err := cur.idx.WriteAt(ms.widx, off); err != nil {
			return fmt.Errorf("filestore: write %s at %d: %w", cur.idxPath, off, err)
		}
	}
	ms.datWritten += int64(len(ms.wdat))
	ms.idxWritten += len(ms.widx) / idxEntrySize
	ms.wdat, ms.widx = ms.wdat[:0], ms.widx[:0]
	return nil
}

// Flush writes the buffered messages (one write per file) and, with DoSync,
// fsyncs them (one fsync, plus the index and data of slices rolled since the
// last flush and the directory if files were created). On any failure every
// message stored since the last successful Flush is discarded: the files are
// cut back, and Flush returns the error.
func (ms *msgStore) Flush() error {
	ms.wmu.Lock()
	defer ms.wmu.Unlock()
	ms.mu.Lock()
	ms.clockLeft = 0
	if err := ms.writable(); err != nil {
		ms.mu.Unlock()
		return err
	}
	err := ms.s.fence()
	if err == nil {
		err = ms.repair()
	}
	if err == nil {
		err = ms.writeBuffers()
	}
	if err != nil {
		// Whatever failed, the batch is not acknowledged: drop it, so
		// that no later flush can write it.
		ms.rollback()
		ms.mu.Unlock()
		return fmt.Errorf("filestore: flush %q: %w", ms.ch.name, err)
	}
	files, dirs := ms.syncSet(false)
	ms.mu.Unlock()

	// Sent/ack records reach the OS with every flush (SPEC D9).
	if err := ms.ch.subs.writeOut(); err != nil {
		ms.s.log.Warn("writing subscription records failed; retried at next flush", "channel", ms.ch.name, "error", err)
	}
	if ms.s.cfg.DoSync {
		err = ms.s.syncFiles(files, dirs)
	}
	if err == nil {
		// Fenced again after the write: a process frozen between the
		// first check and the write (SIGSTOP, a VM pause) may have lost
		// the lock meanwhile, and a newer active may own these
		// sequences. Then the batch must not be acknowledged.
		err = ms.s.fence()
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if err != nil {
		ms.rollback()
		return fmt.Errorf("filestore: flush %q: %w", ms.ch.name, err)
	}
	ms.markDurable(ms.s.cfg.DoSync)
	return nil
}

// syncSet lists what an fsync must cover: rolled slices (data and index),
// the last slice's data (and index if all), and the directory if needed.
func (ms *msgStore) syncSet(all bool) ([]file, []string) {
	var files []file
	for _, sl := range ms.toSync {
		if sl.dat != nil {
			files = append(files, sl.dat, sl.idx)
		}
	}
	if cur := ms.cur(); cur != nil && cur.dat != nil {
		if all || ms.datWritten > ms.datSynced {
			files = append(files, cur.dat)
		}
		if all {
			files = append(files, cur.idx)
		}
	}
	var dirs []string
	if ms.dirDirty {
		dirs = append(dirs, ms.ch.dir)
	}
	return files, dirs
}

func (ms *msgStore) markDurable(synced bool) {
	cur := ms.cur()
	ms.dur = durPoint{last: ms.last}
	if cur != nil {
		ms.dur.num, ms.dur.count, ms.dur.datSize, ms.dur.sliceLast = cur.num, cur.count, cur.datSize, cur.last
	}
	ms.pend = ms.pend[:0]
	ms.deferWrites = false
	if synced {
		ms.toSync = ms.toSync[:0]
		ms.dirDirty = false
		ms.datSynced = ms.datWritten
	}
}

// rollback discards every message stored since the last successful flush
// and cuts the files back (see Flush).
func (ms *msgStore) rollback() {
	ms.wdat, ms.widx = ms.wdat[:0], ms.widx[:0]
	ms.deferWrites = false
	for len(ms.slices) > 0 && ms.cur().num > ms.dur.num {
		sl := ms.cur()
		ms.slices = ms.slices[:len(ms.slices)-1]
		ms.toSync = slices.DeleteFunc(ms.toSync, func(x *slice) bool { return x == sl })
		if ms.s.fenced() == nil {
			sl.remove(ms.s, "") // never archived: it held only undurable data
		} else {
			_ = sl.closeFiles()
		}
	}
	ms.toSync = slices.DeleteFunc(ms.toSync, func(x *slice) bool { return x == ms.cur() })
	if cur := ms.cur(); cur != nil && cur.num == ms.dur.num {
		cur.count, cur.datSize, cur.last = ms.dur.count, ms.dur.datSize, ms.dur.sliceLast
		cur.live = min(cur.live, cur.count)
		if cur.count == 0 {
			cur.first = 0
		}
		ms.datWritten, ms.idxWritten = cur.datSize, cur.count
		ms.datSynced = min(ms.datSynced, ms.datWritten)
		ms.needRepair = true
		if ms.s.fenced() == nil {
			_ = ms.repair() // retried by the next write if it fails now
		}
	}
	for _, p := range ms.pend {
		if p.seq >= ms.first && p.seq <= ms.last {
			ms.msgs--
			ms.bytes -= p.bytes
		}
	}
	ms.pend = ms.pend[:0]
	ms.last = ms.dur.last
	if ms.msgs <= 0 {
		ms.msgs, ms.bytes = 0, 0
		ms.first = ms.last + 1
	}
	for i, m := range ms.cache {
		if m != nil && m.Sequence > ms.last {
			ms.cache[i] = nil
		}
	}
	ms.ra, ms.ira = readAhead{}, idxAhead{}
}

// repair cuts the last slice back to the sizes last written successfully.
func (ms *msgStore) repair() error {
	if !ms.needRepair {
		return nil
	}
	cur := ms.cur()
	if cur == nil {
		ms.needRepair = false
		return nil
	}
	if err := cur.open(ms.s); err != nil {
		return err
	}
	if err := cur.dat.Truncate(ms.datWritten); err != nil {
		return fmt.Errorf("filestore: truncate %s to %d: %w", cur.datPath, ms.datWritten, err)
	}
	if err := cur.idx.Truncate(int64(ms.idxWritten) * idxEntrySize); err != nil {
		return fmt.Errorf("filestore: truncate %s: %w", cur.idxPath, err)
	}
	ms.needRepair = false
	return nil
}

// enforceLimits drops the oldest messages beyond MaxMsgs/MaxBytes, always
// keeping the newest. report is false on recovery: as in the reference,
// only a drop made to store a new message logs the (once per channel)
// limits warning.
func (ms *msgStore) enforceLimits(report bool) {
	if ms.msgs <= 1 || !ms.lim.Exceeded(ms.msgs, ms.bytes) {
		return
	}
	for ms.msgs > 1 && ms.lim.Exceeded(ms.msgs, ms.bytes) {
		if err := ms.dropOldest(); err != nil {
			ms.s.log.Error("dropping old message failed", "channel", ms.ch.name, "error", err)
			return
		}
		if report && !ms.warned {
			ms.warned = true
			ms.s.log.Warn(store.LimitsReachedMessage(ms.ch.name, ms.msgs, ms.bytes, ms.lim))
		}
	}
}

// firstLive returns the first slice holding live messages.
func (ms *msgStore) firstLive() *slice {
	for _, sl := range ms.slices {
		if sl.live < sl.count {
			return sl
		}
	}
	return nil
}

// dropOldest removes the oldest live message; a slice left without live
// messages is removed unless it is the last one.
func (ms *msgStore) dropOldest() error {
	sl := ms.firstLive()
	if sl == nil {
		return nil
	}
	e, err := ms.entry(sl, sl.live)
	if err != nil {
		return err
	}
	sl.live++
	ms.msgs--
	ms.bytes -= uint64(e.size) + msgRecordOverhead
	ms.cache[e.seq%cacheSlots] = nil
	if sl.live == sl.count && sl != ms.cur() {
		ms.slices = slices.DeleteFunc(ms.slices, func(x *slice) bool { return x == sl })
		ms.toSync = slices.DeleteFunc(ms.toSync, func(x *slice) bool { return x == sl })
		if ms.ra.num == sl.num {
			ms.ra = readAhead{}
		}
		if ms.ira.num == sl.num {
			ms.ira = idxAhead{}
		}
		sl.remove(ms.s, ms.ch.name)
	}
	if ms.msgs == 0 {
		ms.first = ms.last + 1
		return nil
	}
	next := ms.firstLive()
	if next == nil {
		ms.first = ms.last + 1
		return nil
	}
	ne, err := ms.entry(next, next.live)
	if err != nil {
		return err
	}
	ms.first = ne.seq
	return nil
}

// expire drops messages older than MaxAge (called about once a second).
func (ms *msgStore) expire(now time.Time) error {
	if ms.lim.MaxAge <= 0 {
		return nil
	}
	ms.wmu.Lock()
	defer ms.wmu.Unlock()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed || ms.s.fenced() != nil {
		return nil
	}
	return ms.expireLocked(now)
}

func (ms *msgStore) expireLocked(now time.Time) error {
	if ms.lim.MaxAge <= 0 {
		return nil
	}
	cutoff := now.UnixNano() - int64(ms.lim.MaxAge)
	for ms.msgs > 0 {
		sl := ms.firstLive()
		if sl == nil {
			return nil
		}
		e, err := ms.entry(sl, sl.live)
		if err != nil {
			return err
		}
		if e.ts >= cutoff {
			return nil
		}
		if err := ms.dropOldest(); err != nil {
			return err
		}
	}
	return nil
}

// Close writes, fsyncs and closes the channel's message files.
func (ms *msgStore) Close() error { return ms.close(true) }

func (ms *msgStore) close(sync bool) error {
	ms.wmu.Lock()
	defer ms.wmu.Unlock()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed {
		return nil
	}
	ms.closed = true
	var err error
	if sync && ms.s.fenced() == nil && ms.s.fence() == nil {
		if err = ms.repair(); err == nil {
			err = ms.writeBuffers()
		}
		if err == nil {
			files, dirs := ms.syncSet(true)
			err = ms.s.syncFiles(files, dirs)
		}
	}
	for _, sl := range ms.slices {
		_ = sl.closeFiles()
	}
	ms.cache = [cacheSlots]*pb.MsgProto{}
	ms.ra, ms.ira = readAhead{}, idxAhead{}
	if err != nil {
		return fmt.Errorf("filestore: close %q: %w", ms.ch.name, err)
	}
	return nil
}

// syncAll fsyncs what was written, index included (auto-sync). It never
// writes buffered messages: they belong to a batch whose Flush is to come.
// A failure is only reported: with DoSync every flushed message was already
// fsynced; without it, durability is best effort by definition.
func (ms *msgStore) syncAll() error {
	ms.wmu.Lock()
	defer ms.wmu.Unlock()
	ms.mu.Lock()
	if err := ms.writable(); err != nil {
		ms.mu.Unlock()
		return err
	}
	if err := ms.s.fence(); err != nil {
		ms.mu.Unlock()
		return err
	}
	files, dirs := ms.syncSet(true)
	written := ms.datWritten
	ms.mu.Unlock()
	err := ms.s.syncFiles(files, dirs)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if err != nil {
		return err
	}
	ms.toSync = ms.toSync[:0]
	ms.dirDirty = false
	ms.datSynced = written
	return nil
}

// releaseIdle frees the read caches and an empty write buffer of a channel
// idle for a while.
func (ms *msgStore) releaseIdle(now time.Time) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed || now.Sub(ms.lastUse) < idleRelease {
		return
	}
	ms.cache = [cacheSlots]*pb.MsgProto{}
	ms.ra, ms.ira = readAhead{}, idxAhead{}
	if len(ms.wdat) == 0 {
		ms.wdat, ms.widx = nil, nil
	}
}

// openOldSlices counts older slices holding open files.
func (ms *msgStore) openOldSlices() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	n := 0
	for _, sl := range ms.slices[:max(len(ms.slices)-1, 0)] {
		if sl.dat != nil {
			n++
		}
	}
	return n
}

// closeOldSlices closes the files of older slices that need no fsync; they
// are reopened on demand.
func (ms *msgStore) closeOldSlices() {
	ms.wmu.Lock()
	defer ms.wmu.Unlock()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed {
		return
	}
	for _, sl := range ms.slices[:max(len(ms.slices)-1, 0)] {
		if !slices.Contains(ms.toSync, sl) {
			_ = sl.closeFiles()
		}
	}
}
