package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// defaultProgressInterval is the default interval of recovery progress logs.
const defaultProgressInterval = 5 * time.Second

// Recover loads the datastore (see store.Store). It returns (nil, nil) for a
// fresh datastore. A torn tail is truncated (and saved to a .broken file);
// a missing or damaged index is rebuilt from the data file; anything else
// is a *CorruptionError and nothing is repaired.
func (s *Store) Recover(ctx context.Context) (*store.RecoveredState, error) {
	s.mu.Lock()
	if err := s.checkOpen(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if s.recovered {
		s.mu.Unlock()
		return nil, ErrRecovered
	}
	s.recovered = true
	s.mu.Unlock()
	if err := s.fence(); err != nil {
		return nil, fmt.Errorf("filestore: recover: %w", err)
	}
	if err := s.truncateWitness(); err != nil {
		return nil, err
	}
	start := time.Now()
	r := &recoverer{s: s, fix: true}
	info, chans, err := r.run(ctx)
	if err != nil {
		for _, ch := range chans {
			_ = ch.msgs.close(false)
			_ = ch.subs.close(false)
		}
		return nil, err
	}
	if info == nil {
		return nil, nil
	}
	state := &store.RecoveredState{Info: info, Channels: make(map[string]*store.RecoveredChannel, len(chans))}
	s.mu.Lock()
	s.info = info
	for _, c := range s.clients.clients {
		cp := *c
		cp.ConnID = append([]byte(nil), c.ConnID...)
		state.Clients = append(state.Clients, &cp)
	}
	sort.Slice(state.Clients, func(i, j int) bool { return state.Clients[i].ID < state.Clients[j].ID })
	for _, ch := range chans {
		s.channels[ch.name] = ch
		state.Channels[ch.name] = &store.RecoveredChannel{Channel: ch.pub, Subs: ch.subs.recovered()}
	}
	s.mu.Unlock()
	s.log.Info("recovered datastore", "dir", s.dir, "channels", len(chans), "messages", r.msgs.Load(),
		"clients", len(state.Clients), "took", time.Since(start))
	return state, nil
}

// truncateWitness keeps TruncateBadEOF a one-off repair, as in the
// reference: a start with it leaves a witness file, and another start with
// it is refused until a start without it has removed the witness, so the
// option (which may cut data) cannot stay in a manifest by mistake.
func (s *Store) truncateWitness() error {
	p := filepath.Join(s.dir, truncWitness)
	_, err := s.fs.Stat(p)
	exists := err == nil
	switch {
	case !s.cfg.TruncateBadEOF && exists:
		if err := s.fs.Remove(p); err != nil {
			return fmt.Errorf("filestore: remove %s: %w", p, err)
		}
		return nil
	case !s.cfg.TruncateBadEOF:
		return nil
	case exists:
		return fmt.Errorf("filestore: the previous start of %s also used --file_truncate_bad_eof, which may cut data: "+
			"start once without it (that removes %s), and use it again only for new damage", s.dir, truncWitness)
	}
	if err := s.fs.MkdirAll(s.dir, 0o750); err != nil {
		return fmt.Errorf("filestore: create %s: %w", s.dir, err)
	}
	f, err := s.fs.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("filestore: create %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("filestore: close %s: %w", p, err)
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("filestore: fsync %s: %w", s.dir, err)
	}
	s.log.Warn("--file_truncate_bad_eof is set: the next start must be without it", "witness", p)
	return nil
}

// recoverer loads a datastore. With fix false (Verify) it modifies nothing
// and records problems instead of repairing them.
type recoverer struct {
	s   *Store
	fix bool

	mu       sync.Mutex
	problems []Problem
	msgs     atomic.Int64
	chans    atomic.Int64
}

func (r *recoverer) problem(p Problem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, p)
}

// run loads info, clients and channels.
func (r *recoverer) run(ctx context.Context) (*store.ServerInfo, []*channel, error) {
	s := r.s
	info, err := r.info()
	if err != nil {
		return nil, nil, err
	}
	if err := r.clients(); err != nil {
		return nil, nil, err
	}
	if r.detach() && len(s.clients.clients) > 0 {
		if err := s.clients.rewrite(); err != nil {
			return nil, nil, err
		}
	}
	dirs, err := r.channelDirs()
	if err != nil {
		return nil, nil, err
	}
	if info == nil {
		if len(dirs) > 0 || len(s.clients.clients) > 0 {
			return nil, nil, &CorruptionError{File: filepath.Join(s.dir, infoFile), Err: errMissingInfo}
		}
		return nil, nil, nil
	}
	stop := r.logProgress(len(dirs))
	defer stop()
	chans, err := r.channels(ctx, dirs)
	if err != nil {
		return nil, chans, err
	}
	names := make(map[string]string, len(chans))
	for _, ch := range chans {
		if other, dup := names[ch.name]; dup {
			return nil, chans, &CorruptionError{File: filepath.Join(ch.dir, metaFile),
				Err: fmt.Errorf("channel %q is also stored in %s", ch.name, other)}
		}
		names[ch.name] = ch.dir
	}
	return info, chans, nil
}

func (r *recoverer) logProgress(total int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		every := r.s.cfg.ProgressInterval
		if every <= 0 {
			every = defaultProgressInterval
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n, done := r.msgs.Load(), r.chans.Load()
				elapsed := time.Since(start)
				args := []any{"channels", done, "of", total, "messages", n,
					"msgs_per_sec", int64(float64(n) / elapsed.Seconds())}
				if done > 0 && int(done) < total {
					// Estimate from the channel rate: channels are the unit of work.
					left := time.Duration(float64(elapsed) * float64(int64(total)-done) / float64(done))
					args = append(args, "estimated_left", left.Round(100*time.Millisecond))
				}
				r.s.log.Info("recovery in progress", args...)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (r *recoverer) info() (*store.ServerInfo, error) {
	p := filepath.Join(r.s.dir, infoFile)
	b, err := readFile(r.s.fs, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: read %s: %w", p, err)
	}
	typ, payload, err := r.single(b)
	if err == nil && typ != recInfo {
		err = errBadType
	}
	var info *store.ServerInfo
	if err == nil {
		info, err = decodeInfo(payload)
	}
	if err != nil {
		return nil, &CorruptionError{File: p, Err: err}
	}
	return info, nil
}

// single decodes a file holding exactly one record.
func (r *recoverer) single(b []byte) (byte, []byte, error) {
	if len(b) < frameHeaderSize {
		return 0, nil, errShortRecord
	}
	h := decodeHeader(b)
	if int64(h.size) != int64(len(b)-frameHeaderSize) {
		return 0, nil, errBadLength
	}
	p := b[frameHeaderSize:]
	if frameCRC(r.s.tab, h.typ, p) != h.crc {
		return 0, nil, errBadCRC
	}
	return h.typ, p, nil
}

// openScan opens a file for a recovery scan: read-write when fixing.
func (r *recoverer) openScan(path string) (file, int64, error) {
	flag := os.O_RDONLY
	if r.fix {
		flag = os.O_RDWR
	}
	f, err := r.s.fs.OpenFile(path, flag, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("filestore: stat %s: %w", path, err)
	}
	return f, fi.Size(), nil
}

// scanLog replays an append-only log, handling a torn tail.
func (r *recoverer) scanLog(path string, ok validTypes, fn func(off int64, typ byte, payload []byte) error) error {
	f, size, err := r.openScan(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("filestore: open %s: %w", path, err)
	}
	defer f.Close()
	res, err := scanRecords(f, path, size, 0, r.s.tab, ok, r.cutBad(), fn)
	if err != nil {
		return err
	}
	return r.tornTail(f, path, res, size)
}

// cutBad reports whether Config.TruncateBadEOF asks to cut the end of the
// newest file at its first bad record, whatever follows (an operator's
// choice after reading a CorruptionError; the cut bytes are saved to
// .broken).
func (r *recoverer) cutBad() bool { return r.fix && r.s.cfg.TruncateBadEOF }

func (r *recoverer) tornTail(f file, path string, res scanResult, size int64) error {
	if !res.torn {
		return nil
	}
	if !r.fix {
		r.problem(Problem{File: path, Offset: res.valid,
			What:   fmt.Sprintf("torn tail: %d bytes of a partially written last record", size-res.valid),
			Action: "none needed: the next start truncates it (saving the bytes to a .broken file); it was never acknowledged"})
		return nil
	}
	return r.s.cutTail(f, path, res.valid, size, "partial last record (never acknowledged)")
}

// cutSuperseded handles the records of an older slice, from offset from
// on, whose sequences (from seq on) a newer slice holds.
func (r *recoverer) cutSuperseded(f file, path string, from, size int64, seq uint64) error {
	if !r.fix {
		r.problem(Problem{File: path, Offset: from,
			What: fmt.Sprintf("%d bytes of messages from sequence %d on, which a newer slice holds "+
				"(a late write by an active that had lost its lock)", size-from, seq),
			Action: "none needed: the next start cuts them (saving the bytes to a .broken file); they were never acknowledged"})
		return nil
	}
	return r.s.cutTail(f, path, from, size,
		fmt.Sprintf("messages from sequence %d on are held by a newer slice (a late write by an active that had lost its lock; never acknowledged)", seq))
}

func (r *recoverer) clients() error {
	cl := r.s.clients
	return r.scanLog(cl.log.path, func(t byte) bool { return t == recClientAdd || t == recClientDel },
		func(off int64, typ byte, payload []byte) error {
			if typ == recClientAdd {
				c, err := decodeClient(payload)
				if err != nil {
					return &CorruptionError{File: cl.log.path, Offset: off, Err: fmt.Errorf("%w: %w", errBadPayload, err)}
				}
				cl.clients[c.ID] = c
			} else {
				d := dec{b: payload}
				id := d.str()
				if err := d.done(); err != nil {
					return &CorruptionError{File: cl.log.path, Offset: off, Err: fmt.Errorf("%w: %w", errBadPayload, err)}
				}
				delete(cl.clients, id)
			}
			cl.log.records++
			return nil
		})
}

// channelDirs lists channel directories, removing leftovers of deletions.
func (r *recoverer) channelDirs() ([]string, error) {
	root := filepath.Join(r.s.dir, channelsDir)
	ents, err := r.s.fs.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: read %s: %w", root, err)
	}
	var dirs []string
	for _, e := range ents {
		p := filepath.Join(root, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), deletedPfx):
			if r.fix {
				if err := r.s.fs.RemoveAll(p); err != nil {
					return nil, fmt.Errorf("filestore: remove deleted channel %s: %w", p, err)
				}
			}
		case e.IsDir():
			dirs = append(dirs, p)
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}

// channels recovers the channel directories with ParallelRecovery workers.
func (r *recoverer) channels(ctx context.Context, dirs []string) ([]*channel, error) {
	workers := max(1, min(r.s.cfg.ParallelRecovery, len(dirs)))
	jobs := make(chan string)
	var (
		mu    sync.Mutex
		chans []*channel
		errs  []error
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for dir := range jobs {
				ch, err := r.channel(dir)
				mu.Lock()
				if ch != nil {
					chans = append(chans, ch)
				}
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
				r.chans.Add(1)
			}
		}()
	}
	for _, d := range dirs {
		mu.Lock()
		failed := len(errs) > 0 && r.fix
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		jobs <- d
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return chans, fmt.Errorf("filestore: recover: %w", err)
	}
	if len(errs) > 0 {
		return chans, errs[0]
	}
	sort.Slice(chans, func(i, j int) bool { return chans[i].name < chans[j].name })
	return chans, nil
}

// channel recovers one channel directory; (nil, nil) for the leftover of an
// interrupted creation.
func (r *recoverer) channel(dir string) (*channel, error) {
	s := r.s
	ents, err := s.fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: read %s: %w", dir, err)
	}
	var nums []int
	seen := map[int]bool{}
	hasMeta, hasSubs := false, false
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, tmpSuffix):
			if r.fix {
				_ = s.fs.Remove(filepath.Join(dir, name))
			}
		case name == metaFile:
			hasMeta = true
		case name == subsFile:
			hasSubs = true
		default:
			if n, _, ok := parseSliceName(name); ok && !seen[n] {
				seen[n] = true
				nums = append(nums, n)
			}
		}
	}
	metaPath := filepath.Join(dir, metaFile)
	if !hasMeta {
		if len(nums) == 0 && !hasSubs {
			if r.fix {
				_ = s.fs.RemoveAll(dir)
			}
			return nil, nil
		}
		return nil, &CorruptionError{File: metaPath, Err: errMissingMeta}
	}
	b, err := readFile(s.fs, metaPath)
	if err != nil {
		return nil, fmt.Errorf("filestore: read %s: %w", metaPath, err)
	}
	typ, payload, err := r.single(b)
	if err == nil && typ != recChanName {
		err = errBadType
	}
	var name string
	if err == nil {
		d := dec{b: payload}
		name = d.str()
		err = d.done()
	}
	if err != nil {
		return nil, &CorruptionError{File: metaPath, Err: err}
	}
	ch := s.newChannel(name, dir)
	sort.Ints(nums)
	if err := r.messages(ch.msgs, nums); err != nil {
		return ch, err
	}
	if hasSubs {
		ss := ch.subs
		err := r.scanLog(ss.log.path, func(t byte) bool { return t >= recSubState && t <= recSubMaxID },
			func(off int64, typ byte, payload []byte) error {
				if err := ss.apply(typ, payload); err != nil {
					return &CorruptionError{File: ss.log.path, Offset: off, Err: fmt.Errorf("%w: %w", errBadPayload, err)}
				}
				return nil
			})
		if err != nil {
			return ch, err
		}
		if r.detach() {
			ss.mu.Lock()
			err := ss.log.replace(ss.snapshot(), ss.liveRecords())
			ss.mu.Unlock()
			if err != nil {
				return ch, err
			}
		}
	}
	return ch, nil
}

// detach reports whether recovery must stop appending to files a previous
// incarnation may still hold open (FT mode, see doc.go "Fencing"): the
// newest slice is rolled at the first Store, and subs.log and clients.log
// are rewritten (tmp, rename), so a late write by a fenced-off process lands
// in a file nobody appends to any more.
func (r *recoverer) detach() bool { return r.fix && r.s.cfg.Fence != nil }

// messages recovers the slices of a channel.
func (r *recoverer) messages(ms *msgStore, nums []int) error {
	// after[i] is the first sequence of the nearest newer slice holding
	// messages (0: none). Records of slice i from that sequence on were
	// written late by a fenced-off active into a slice its successor had
	// stopped appending to (see doc.go "Fencing"): the newer slice holds the
	// acknowledged messages with those sequences, so they are cut.
	after := make([]uint64, len(nums))
	for i := len(nums) - 1; i > 0; i-- {
		after[i-1] = after[i]
		if seq := r.firstSeq(ms.ch.dir, nums[i]); seq > 0 {
			after[i-1] = seq
		}
	}
	var kept []*slice
	for i, n := range nums {
		last := i == len(nums)-1
		sl, err := r.slice(ms, n, last, after[i])
		if err != nil {
			for _, k := range kept {
				_ = k.closeFiles()
			}
			return err
		}
		if sl.count == 0 && !last {
			// An empty older slice (e.g. created just before a crash).
			if r.fix {
				sl.remove(r.s, "")
			}
			continue
		}
		if !last || !r.fix {
			_ = sl.closeFiles()
		}
		kept = append(kept, sl)
		ms.msgs += sl.count
		if sl.count > 0 {
			if ms.msgs == sl.count {
				ms.first = sl.first
			}
			ms.last = sl.last
		}
	}
	ms.slices = kept
	if len(nums) > 0 {
		ms.nextNum = nums[len(nums)-1]
	}
	if ms.msgs == 0 {
		ms.first = ms.last + 1
	}
	if cur := ms.cur(); cur != nil {
		ms.datWritten, ms.idxWritten, ms.datSynced = cur.datSize, cur.count, cur.datSize
	}
	ms.markDurable(true)
	ms.rollFirst = r.detach()
	if r.fix {
		ms.enforceLimits(false)
		if err := ms.expireLocked(time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// firstSeq returns the sequence of the first message of slice num, or 0
// when it holds none or its first record cannot be read (the slice's own
// scan reports why).
func (r *recoverer) firstSeq(dir string, num int) uint64 {
	sl := newSlice(dir, num)
	f, err := r.s.fs.OpenFile(sl.datPath, os.O_RDONLY, 0)
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	var hb [frameHeaderSize]byte
	if _, err := readAt(f, hb[:], 0); err != nil {
		return 0
	}
	h := decodeHeader(hb[:])
	if h.typ != recMsg || h.size > maxRecordSize {
		return 0
	}
	payload := make([]byte, h.size)
	if _, err := readAt(f, payload, frameHeaderSize); err != nil || frameCRC(r.s.tab, h.typ, payload) != h.crc {
		return 0
	}
	var m pb.MsgProto
	if m.Unmarshal(payload) != nil {
		return 0
	}
	return m.Sequence
}

// errSuperseded ends the scan of a slice at a record whose sequence a newer
// slice holds.
var errSuperseded = errors.New("sequence superseded by a newer slice")

// slice scans one slice: every dat record is checked; index entries that do
// not match the dat file (or are missing) are rebuilt from it. Records with
// sequences from after on (0: none) are superseded by a newer slice: they
// are cut (saved to .broken) when fixing, reported otherwise.
func (r *recoverer) slice(ms *msgStore, num int, last bool, after uint64) (*slice, error) {
	s := r.s
	sl := newSlice(ms.ch.dir, num)
	dat, datSize, err := r.openScan(sl.datPath)
	if errors.Is(err, fs.ErrNotExist) {
		if fi, serr := s.fs.Stat(sl.idxPath); serr == nil && fi.Size() >= idxEntrySize {
			return nil, &CorruptionError{File: sl.datPath, Err: errors.New("data file missing while its index lists messages")}
		}
		if r.fix {
			_ = s.fs.Remove(sl.idxPath)
		}
		return sl, nil
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: open %s: %w", sl.datPath, err)
	}
	idxFlag := os.O_RDONLY
	if r.fix {
		idxFlag = os.O_RDWR | os.O_CREATE
		if _, err := s.fs.Stat(sl.idxPath); errors.Is(err, fs.ErrNotExist) && datSize > 0 {
			s.log.Warn("index file missing: rebuilding it from the data file", "file", sl.idxPath)
		}
	}
	var idxEntries int
	idx, err := s.fs.OpenFile(sl.idxPath, idxFlag, 0o640)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.problem(Problem{File: sl.idxPath, What: "index file missing",
			Action: "none needed: the next start rebuilds it from " + filepath.Base(sl.datPath)})
	case err != nil:
		_ = dat.Close()
		return nil, fmt.Errorf("filestore: open %s: %w", sl.idxPath, err)
	default:
		fi, err := idx.Stat()
		if err != nil {
			_ = dat.Close()
			_ = idx.Close()
			return nil, fmt.Errorf("filestore: stat %s: %w", sl.idxPath, err)
		}
		idxEntries = int(fi.Size() / idxEntrySize)
	}
	sl.dat, sl.idx = dat, idx
	fail := func(err error) (*slice, error) {
		_ = sl.closeFiles()
		return nil, err
	}

	var idxR *chunkReader
	if idx != nil {
		idxR = newChunkReader(idx, int64(idxEntries)*idxEntrySize, 0)
		defer idxR.release()
	}
	var (
		k           int
		rebuildFrom = -1
		rebuilt     []byte
		written     int
		prevSeq     = ms.last
		mismatch    bool
	)
	flushRebuilt := func() error {
		if !r.fix || len(rebuilt) == 0 {
			return nil
		}
		off := int64(rebuildFrom+written) * idxEntrySize
		if _, err := idx.WriteAt(rebuilt, off); err != nil {
			return fmt.Errorf("filestore: write %s at %d: %w", sl.idxPath, off, err)
		}
		written += len(rebuilt) / idxEntrySize
		rebuilt = rebuilt[:0]
		return nil
	}
	res, err := scanRecords(dat, sl.datPath, datSize, 0, s.tab, func(t byte) bool { return t == recMsg }, last && r.cutBad(),
		func(off int64, _ byte, payload []byte) error {
			var e idxEntry
			matched := false
			if rebuildFrom < 0 && k < idxEntries {
				b, err := idxR.next(idxEntrySize)
				if err != nil {
					return err
				}
				if ie, ok := decodeIdx(b, s.tab); ok && ie.offset == off && ie.size == uint32(len(payload)) {
					e, matched = ie, true
				} else {
					mismatch = true
				}
			}
			if !matched {
				if rebuildFrom < 0 {
					rebuildFrom = k
				}
				var m pb.MsgProto
				if err := m.Unmarshal(payload); err != nil {
					return &CorruptionError{File: sl.datPath, Offset: off, Err: fmt.Errorf("%w: %w", errBadPayload, err)}
				}
				e = idxEntry{seq: m.Sequence, ts: m.Timestamp, offset: off, size: uint32(len(payload))}
			}
			if after > 0 && e.seq >= after {
				return errSuperseded
			}
			if !matched {
				rebuilt = appendIdx(rebuilt, s.tab, e)
				if len(rebuilt) >= scanChunk {
					if err := flushRebuilt(); err != nil {
						return err
					}
				}
			}
			if e.seq <= prevSeq {
				return &CorruptionError{File: sl.datPath, Offset: off,
					Err: fmt.Errorf("%w: %d after %d", errBadSequence, e.seq, prevSeq)}
			}
			prevSeq = e.seq
			if k == 0 {
				sl.first, sl.firstTS = e.seq, e.ts
			}
			sl.last = e.seq
			k++
			ms.bytes += uint64(len(payload)) + msgRecordOverhead
			r.msgs.Add(1)
			return nil
		})
	superseded := errors.Is(err, errSuperseded)
	if err != nil && !superseded {
		return fail(err)
	}
	if superseded {
		if err := r.cutSuperseded(dat, sl.datPath, res.valid, datSize, after); err != nil {
			return fail(err)
		}
		res.torn = false
	}
	if res.torn && !last {
		return fail(&CorruptionError{File: sl.datPath, Offset: res.valid,
			Err: errors.New("partial record at the end of a slice that is not the newest one")})
	}
	if err := r.tornTail(dat, sl.datPath, res, datSize); err != nil {
		return fail(err)
	}
	sl.count, sl.datSize = k, res.valid
	if mismatch {
		r.problem(Problem{File: sl.idxPath, Offset: int64(rebuildFrom) * idxEntrySize,
			What:   "index entries do not match the data file",
			Action: "none needed: the next start rebuilds them from " + filepath.Base(sl.datPath)})
		if r.fix {
			s.log.Warn("rebuilding damaged index entries", "file", sl.idxPath, "from_entry", rebuildFrom)
		}
	}
	if r.fix && idx != nil && (rebuildFrom >= 0 || idxEntries != k) {
		if err := flushRebuilt(); err != nil {
			return fail(err)
		}
		if err := idx.Truncate(int64(k) * idxEntrySize); err != nil {
			return fail(fmt.Errorf("filestore: truncate %s: %w", sl.idxPath, err))
		}
		if err := idx.Sync(); err != nil {
			return fail(fmt.Errorf("filestore: fsync %s: %w", sl.idxPath, err))
		}
	}
	if !r.fix {
		_ = sl.closeFiles()
	}
	return sl, nil
}

// helper for tests and Verify: sorted problem list.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return int(a.Offset - b.Offset)
	})
}
