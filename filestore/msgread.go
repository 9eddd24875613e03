package filestore

import (
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// The read side of msgStore: index entries, records, lookups.

// entry returns index entry j of sl, from the buffer, the read-ahead or
// the index file.
func (ms *msgStore) entry(sl *slice, j int) (idxEntry, error) {
	written := sl.count
	if sl == ms.cur() {
		written = ms.idxWritten
		if j >= written {
			b := ms.widx[(j-written)*idxEntrySize:]
			e, _ := decodeIdx(b, ms.s.tab)
			return e, nil
		}
	}
	ira := &ms.ira
	if ira.buf == nil || ira.num != sl.num || j < ira.start || j >= ira.start+len(ira.buf)/idxEntrySize {
		if err := sl.open(ms.s); err != nil {
			return idxEntry{}, err
		}
		n := min(idxAheadCount, written-j)
		if cap(ira.buf) < idxAheadCount*idxEntrySize {
			ira.buf = make([]byte, idxAheadCount*idxEntrySize)
		}
		ira.buf = ira.buf[:n*idxEntrySize]
		got, err := readAt(sl.idx, ira.buf, int64(j)*idxEntrySize)
		if err != nil {
			ira.buf = nil
			return idxEntry{}, err
		}
		if got < len(ira.buf) {
			ira.buf = nil
			return idxEntry{}, &CorruptionError{File: sl.idxPath, Offset: int64(j) * idxEntrySize, Err: errShortRecord}
		}
		ira.num, ira.start = sl.num, j
	}
	off := (j - ira.start) * idxEntrySize
	e, ok := decodeIdx(ira.buf[off:off+idxEntrySize], ms.s.tab)
	if !ok {
		return idxEntry{}, &CorruptionError{File: sl.idxPath, Offset: int64(j) * idxEntrySize, Err: errBadCRC}
	}
	return e, nil
}

// findSlice returns the slice whose entries may hold seq.
func (ms *msgStore) findSlice(seq uint64) *slice {
	i, _ := slices.BinarySearchFunc(ms.slices, seq, func(sl *slice, seq uint64) int {
		switch {
		case sl.count == 0 || sl.last < seq:
			return -1
		case sl.first > seq:
			return 1
		}
		return 0
	})
	if i < len(ms.slices) && ms.slices[i].count > 0 && ms.slices[i].first <= seq && seq <= ms.slices[i].last {
		return ms.slices[i]
	}
	return nil
}

// findEntry returns the index entry of seq in sl, if live.
func (ms *msgStore) findEntry(sl *slice, seq uint64) (idxEntry, bool, error) {
	// Sequences are normally contiguous: try the direct position first.
	if j := int(seq - sl.first); j >= sl.live && j < sl.count {
		e, err := ms.entry(sl, j)
		if err != nil {
			return idxEntry{}, false, err
		}
		if e.seq == seq {
			return e, true, nil
		}
	}
	lo, hi := sl.live, sl.count
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		e, err := ms.entry(sl, mid)
		if err != nil {
			return idxEntry{}, false, err
		}
		switch {
		case e.seq == seq:
			return e, true, nil
		case e.seq < seq:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return idxEntry{}, false, nil
}

// readRecord returns the payload of the record e points to, verifying its
// header and (with DoCRC) its checksum.
func (ms *msgStore) readRecord(sl *slice, e idxEntry) ([]byte, error) {
	rs := e.recSize()
	var b []byte
	extent := sl.datSize
	if sl == ms.cur() {
		extent = ms.datWritten
	}
	switch {
	case sl == ms.cur() && e.offset >= ms.datWritten:
		o := e.offset - ms.datWritten
		if o+rs > int64(len(ms.wdat)) {
			return nil, &CorruptionError{File: sl.datPath, Offset: e.offset, Err: errBadLength}
		}
		b = ms.wdat[o : o+rs]
	case ms.ra.buf != nil && ms.ra.num == sl.num && e.offset >= ms.ra.off && e.offset+rs <= ms.ra.off+int64(len(ms.ra.buf)):
		o := e.offset - ms.ra.off
		b = ms.ra.buf[o : o+rs]
	default:
		if err := sl.open(ms.s); err != nil {
			return nil, err
		}
		// Read ahead only when reading on from the previous window (a
		// subscriber catching up); a random lookup reads one small block.
		ahead := int64(randomReadSize)
		if ms.ra.buf != nil && ms.ra.num == sl.num && e.offset >= ms.ra.off && e.offset <= ms.ra.off+int64(len(ms.ra.buf)) {
			ahead = int64(ms.s.cfg.ReadBufferSize)
		}
		n := min(max(rs, ahead), extent-e.offset)
		if n < rs {
			return nil, &CorruptionError{File: sl.datPath, Offset: e.offset, Err: errBadLength}
		}
		if int64(cap(ms.ra.buf)) < n {
			ms.ra.buf = make([]byte, n)
		}
		if ms.s.cfg.ReadBufferSize == 0 {
			n = rs
		}
		ms.ra.buf = ms.ra.buf[:n]
		got, err := readAt(sl.dat, ms.ra.buf, e.offset)
		if err != nil {
			ms.ra = readAhead{}
			return nil, err
		}
		if int64(got) < rs {
			ms.ra = readAhead{}
			return nil, &CorruptionError{File: sl.datPath, Offset: e.offset, Err: errShortRecord}
		}
		ms.ra.buf, ms.ra.num, ms.ra.off = ms.ra.buf[:got], sl.num, e.offset
		b = ms.ra.buf[:rs]
	}
	h := decodeHeader(b)
	if h.size != e.size || h.typ != recMsg {
		return nil, &CorruptionError{File: sl.datPath, Offset: e.offset, Err: errBadLength}
	}
	payload := b[frameHeaderSize:]
	if ms.s.cfg.DoCRC && frameCRC(ms.s.tab, h.typ, payload) != h.crc {
		return nil, &CorruptionError{File: sl.datPath, Offset: e.offset, Err: errBadCRC}
	}
	return payload, nil
}

// Lookup returns a copy of the message with that sequence, or (nil, nil).
func (ms *msgStore) Lookup(seq uint64) (*pb.MsgProto, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed {
		return nil, store.ErrClosed
	}
	if ms.msgs == 0 || seq < ms.first || seq > ms.last {
		return nil, nil
	}
	ms.lastUse = time.Now()
	if m := ms.cache[seq%cacheSlots]; m != nil && m.Sequence == seq {
		cp := *m
		return &cp, nil
	}
	sl := ms.findSlice(seq)
	if sl == nil {
		return nil, nil
	}
	e, ok, err := ms.findEntry(sl, seq)
	if err != nil || !ok {
		return nil, err
	}
	payload, err := ms.readRecord(sl, e)
	if err != nil {
		return nil, err
	}
	m := &pb.MsgProto{}
	if err := m.Unmarshal(payload); err != nil {
		return nil, &CorruptionError{File: sl.datPath, Offset: e.offset, Err: fmt.Errorf("%w: %w", errBadPayload, err)}
	}
	if len(payload) <= cacheMaxMsg {
		ms.cache[seq%cacheSlots] = m
	}
	cp := *m
	return &cp, nil
}

// FirstAndLastSequence returns the first and last stored sequences.
func (ms *msgStore) FirstAndLastSequence() (uint64, uint64, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed {
		return 0, 0, store.ErrClosed
	}
	if ms.last == 0 {
		return 0, 0, nil
	}
	return ms.first, ms.last, nil
}

// GetSequenceFromTimestamp returns the first sequence whose timestamp is
// >= ts: 0 for an empty log, last+1 if all are older.
func (ms *msgStore) GetSequenceFromTimestamp(ts int64) (uint64, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed {
		return 0, store.ErrClosed
	}
	if ms.last == 0 {
		return 0, nil
	}
	for _, sl := range ms.slices {
		if sl.live >= sl.count {
			continue
		}
		le, err := ms.entry(sl, sl.count-1)
		if err != nil {
			return 0, err
		}
		if le.ts < ts {
			continue
		}
		lo, hi := sl.live, sl.count-1
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			e, err := ms.entry(sl, mid)
			if err != nil {
				return 0, err
			}
			if e.ts >= ts {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		e, err := ms.entry(sl, lo)
		if err != nil {
			return 0, err
		}
		return e.seq, nil
	}
	return ms.last + 1, nil
}

// State returns the number of stored messages and their bytes, each counted
// as its marshalled size plus msgRecordOverhead.
func (ms *msgStore) State() (int, uint64, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed {
		return 0, 0, store.ErrClosed
	}
	return ms.msgs, ms.bytes, nil
}
