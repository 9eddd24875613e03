package filestore

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stanft/stanft/store"
)

// faultStore opens a recovered store with one channel "foo" over an
// injecting file system.
func faultStore(t *testing.T, dir string, mod func(*Config)) (*Store, *injectFS, *store.Channel) {
	t.Helper()
	ifs := newInjectFS()
	cfg := testConfig(t)
	cfg.fs = ifs
	if mod != nil {
		mod(&cfg)
	}
	s := openTest(t, dir, cfg)
	t.Cleanup(func() { _ = s.Close() })
	_, err := s.Recover(context.Background())
	must(t, err)
	must(t, s.Init(testInfo("cid")))
	ch, err := s.CreateChannel("foo")
	must(t, err)
	return s, ifs, ch
}

func storeRange(t *testing.T, ms store.MsgStore, from, to uint64) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		must(t, ms.Store(testMsg("foo", seq)))
	}
}

// TestGroupCommit: many Store calls then one Flush cost one write per file
// and one fsync.
func TestGroupCommit(t *testing.T) {
	_, ifs, ch := faultStore(t, t.TempDir(), nil)
	storeRange(t, ch.Msgs, 1, 1) // create the slice files
	must(t, ch.Msgs.Flush())
	w, s := ifs.count(opWrite), ifs.count(opSync)
	storeRange(t, ch.Msgs, 2, 500)
	must(t, ch.Msgs.Flush())
	if got := ifs.count(opWrite) - w; got != 2 {
		t.Errorf("Flush of 499 messages did %d writes; want 2 (data and index)", got)
	}
	if got := ifs.count(opSync) - s; got != 1 {
		t.Errorf("Flush of 499 messages did %d fsyncs; want 1", got)
	}
	s = ifs.count(opSync)
	must(t, ch.Msgs.Flush())
	if got := ifs.count(opSync) - s; got != 0 {
		t.Errorf("empty Flush did %d fsyncs; want 0", got)
	}
}

// diskErrors are the errors a full or failing disk returns.
var diskErrors = []error{syscall.ENOSPC, syscall.EIO}

// TestFlushFailureLosesNothingAcked: a failing write (whole or partial) or
// fsync makes Flush fail, keeps every acknowledged message readable and
// intact, and writes work again once the fault is gone.
func TestFlushFailureLosesNothingAcked(t *testing.T) {
	for _, fault := range []struct {
		name    string
		op      op
		partial bool
	}{
		{"Write", opWrite, false},
		{"PartialWrite", opWrite, true},
		{"Fsync", opSync, false},
	} {
		for _, diskErr := range diskErrors {
			t.Run(fault.name+"/"+diskErr.Error(), func(t *testing.T) {
				dir := t.TempDir()
				s, ifs, ch := faultStore(t, dir, nil)
				storeRange(t, ch.Msgs, 1, 10)
				must(t, ch.Msgs.Flush())
				ifs.setInjector(func(o op, path string, _ int) (error, bool) {
					if o == fault.op && strings.HasSuffix(path, ".dat") {
						return diskErr, fault.partial
					}
					return nil, false
				})
				storeRange(t, ch.Msgs, 11, 20)
				err := ch.Msgs.Flush()
				if !errors.Is(err, diskErr) {
					t.Fatalf("Flush on a failing disk = %v; want %v", err, diskErr)
				}
				checkMsgs(t, ch.Msgs, 1, 10)
				n, _, _ := ch.Msgs.State()
				if n != 10 {
					t.Fatalf("State msgs = %d after a failed flush; want 10", n)
				}
				// Still failing: new writes keep failing, nothing breaks.
				storeRange(t, ch.Msgs, 11, 12)
				if err := ch.Msgs.Flush(); !errors.Is(err, diskErr) {
					t.Fatalf("second Flush = %v", err)
				}
				ifs.setInjector(nil)
				storeRange(t, ch.Msgs, 11, 20)
				must(t, ch.Msgs.Flush())
				checkMsgs(t, ch.Msgs, 1, 20)
				must(t, s.Close())
				_, rs, err := recoverDir(t, dir, testConfig(t))
				must(t, err)
				checkMsgs(t, rs.Channels["foo"].Channel.Msgs, 1, 20)
			})
		}
	}
}

// TestFailedTruncateIsRetried: when cutting back after a failed write fails
// too, the next write cuts back first.
func TestFailedTruncateIsRetried(t *testing.T) {
	dir := t.TempDir()
	s, ifs, ch := faultStore(t, dir, nil)
	storeRange(t, ch.Msgs, 1, 5)
	must(t, ch.Msgs.Flush())
	ifs.setInjector(func(o op, path string, _ int) (error, bool) {
		if (o == opWrite || o == opTruncate) && strings.HasSuffix(path, ".dat") {
			return syscall.EIO, true
		}
		return nil, false
	})
	storeRange(t, ch.Msgs, 6, 9)
	if err := ch.Msgs.Flush(); err == nil {
		t.Fatal("Flush succeeded on a failing disk")
	}
	// The file could not be cut back: writes are refused until it is.
	if err := ch.Msgs.Store(testMsg("foo", 6)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Store before the cut-back succeeded = %v", err)
	}
	checkMsgs(t, ch.Msgs, 1, 5)
	ifs.setInjector(nil)
	storeRange(t, ch.Msgs, 6, 9)
	must(t, ch.Msgs.Flush())
	must(t, s.Close())
	_, rs, err := recoverDir(t, dir, testConfig(t))
	must(t, err)
	checkMsgs(t, rs.Channels["foo"].Channel.Msgs, 1, 9)
}

// TestFullBufferWriteFailure: a failed write of a full buffer during Store
// does not fail Store (nor lose the messages buffered before); the next
// Flush retries and reports it, and nothing acknowledged is lost.
func TestFullBufferWriteFailure(t *testing.T) {
	dir := t.TempDir()
	s, ifs, ch := faultStore(t, dir, func(c *Config) { c.BufferSize = 0 })
	storeRange(t, ch.Msgs, 1, 3)
	must(t, ch.Msgs.Flush())
	ifs.setInjector(func(o op, path string, _ int) (error, bool) {
		if o == opWrite {
			return syscall.ENOSPC, true
		}
		return nil, false
	})
	w := ifs.count(opWrite)
	storeRange(t, ch.Msgs, 4, 6)
	if got := ifs.count(opWrite) - w; got != 1 {
		t.Fatalf("%d write attempts after the first failure; want 1 (then deferred to Flush)", got)
	}
	if err := ch.Msgs.Flush(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Flush on a full disk = %v", err)
	}
	checkMsgs(t, ch.Msgs, 1, 3)
	ifs.setInjector(nil)
	storeRange(t, ch.Msgs, 4, 6)
	must(t, ch.Msgs.Flush())
	// A successful write of buffered messages after an early failure.
	failed := false
	ifs.setInjector(func(o op, path string, n int) (error, bool) {
		if o == opWrite && !failed {
			failed = true
			return syscall.ENOSPC, true
		}
		return nil, false
	})
	storeRange(t, ch.Msgs, 7, 9)
	must(t, ch.Msgs.Flush())
	checkMsgs(t, ch.Msgs, 1, 9)
	must(t, s.Close())
	_, rs, err := recoverDir(t, dir, testConfig(t))
	must(t, err)
	checkMsgs(t, rs.Channels["foo"].Channel.Msgs, 1, 9)
}

// TestSubsFlushFailureRetried: failed subscription records are rewritten by
// the next Flush.
func TestSubsFlushFailureRetried(t *testing.T) {
	for _, o := range []op{opWrite, opSync} {
		dir := t.TempDir()
		s, ifs, ch := faultStore(t, dir, nil)
		sub := &store.SubState{ClientID: "c", Inbox: "i"}
		must(t, ch.Subs.CreateSub(sub))
		must(t, ch.Subs.AddSeqPending(sub.ID, 1))
		must(t, ch.Subs.Flush())
		ifs.setInjector(func(got op, path string, _ int) (error, bool) {
			if got == o && strings.HasSuffix(path, subsFile) {
				return syscall.EIO, true
			}
			return nil, false
		})
		must(t, ch.Subs.AddSeqPending(sub.ID, 2))
		must(t, ch.Subs.AckSeqPending(sub.ID, 1))
		if err := ch.Subs.Flush(); !errors.Is(err, syscall.EIO) {
			t.Fatalf("Flush on a failing disk = %v", err)
		}
		ifs.setInjector(nil)
		must(t, ch.Subs.AddSeqPending(sub.ID, 3))
		must(t, ch.Subs.Flush())
		must(t, s.Close())
		_, rs, err := recoverDir(t, dir, testConfig(t))
		must(t, err)
		subs := rs.Channels["foo"].Subs
		_, has1 := subs[0].Pending[1]
		if len(subs) != 1 || subs[0].Sub.LastSent != 3 || len(subs[0].Pending) != 2 || has1 {
			t.Fatalf("%v: recovered %+v pending %v", o, subs[0].Sub, subs[0].Pending)
		}
	}
}

// TestAddClientFailure: a failed AddClient is not recorded and does not
// disturb earlier or later registrations.
func TestAddClientFailure(t *testing.T) {
	dir := t.TempDir()
	s, ifs, _ := faultStore(t, dir, nil)
	must(t, s.AddClient(&store.Client{ID: "a"}))
	must(t, s.DeleteClient("a"))
	must(t, s.AddClient(&store.Client{ID: "b"}))
	ifs.setInjector(func(o op, path string, _ int) (error, bool) {
		if o == opSync && strings.HasSuffix(path, clientsFile) {
			return syscall.EIO, false
		}
		return nil, false
	})
	if err := s.AddClient(&store.Client{ID: "c"}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("AddClient on a failing disk = %v", err)
	}
	ifs.setInjector(nil)
	must(t, s.AddClient(&store.Client{ID: "d"}))
	must(t, s.Close())
	_, rs, err := recoverDir(t, dir, testConfig(t))
	must(t, err)
	var ids []string
	for _, c := range rs.Clients {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, ",") != "b,d" {
		t.Fatalf("recovered clients %v; want b,d", ids)
	}
}

// TestFence: once Fence fails, the failing flush returns its error, nothing
// more is written, and every later write is refused.
func TestFence(t *testing.T) {
	dir := t.TempDir()
	lost := errors.New("lock lost")
	var fenceErr error
	calls := 0
	s, ifs, ch := faultStore(t, dir, func(c *Config) {
		c.Fence = func() error { calls++; return fenceErr }
	})
	storeRange(t, ch.Msgs, 1, 5)
	before := calls
	must(t, ch.Msgs.Flush())
	if calls == before {
		t.Fatal("Flush did not call Fence")
	}
	fenceErr = lost
	storeRange(t, ch.Msgs, 6, 8)
	w, sy := ifs.count(opWrite), ifs.count(opSync)
	err := ch.Msgs.Flush()
	if !errors.Is(err, lost) || !errors.Is(err, ErrFenced) || !errors.Is(err, store.ErrFenced) {
		t.Fatalf("Flush after losing the lock = %v; want ErrFenced (and store.ErrFenced) wrapping %v", err, lost)
	}
	fenceErr = nil // even if the check would pass again, the store stays fenced
	for name, err := range map[string]error{
		"Store":     ch.Msgs.Store(testMsg("foo", 9)),
		"Flush":     ch.Msgs.Flush(),
		"CreateSub": ch.Subs.CreateSub(&store.SubState{}),
		"AddClient": s.AddClient(&store.Client{ID: "x"}),
		"Init":      s.Init(testInfo("x")),
	} {
		if !errors.Is(err, ErrFenced) {
			t.Errorf("%s after fencing = %v; want ErrFenced", name, err)
		}
	}
	if _, err := s.CreateChannel("bar"); !errors.Is(err, ErrFenced) {
		t.Errorf("CreateChannel after fencing = %v", err)
	}
	_ = s.Close()
	if ifs.count(opWrite) != w || ifs.count(opSync) != sy {
		t.Fatalf("fenced store wrote %d times and synced %d times", ifs.count(opWrite)-w, ifs.count(opSync)-sy)
	}
	checkRecovered := func() {
		_, rs, err := recoverDir(t, dir, testConfig(t))
		must(t, err)
		checkMsgs(t, rs.Channels["foo"].Channel.Msgs, 1, 5)
	}
	checkRecovered()
}

// TestFenceAfterWrite: a store that loses its lock between the fence
// check before a flush's write and the end of that flush (the process was
// frozen in between) fails the flush, so its batch is never acknowledged.
func TestFenceAfterWrite(t *testing.T) {
	dir := t.TempDir()
	lost := errors.New("lock lost")
	calls, failFrom := 0, -1
	_, ifs, ch := faultStore(t, dir, func(c *Config) {
		c.Fence = func() error {
			calls++
			if failFrom >= 0 && calls >= failFrom {
				return lost
			}
			return nil
		}
	})
	storeRange(t, ch.Msgs, 1, 5)
	must(t, ch.Msgs.Flush())
	storeRange(t, ch.Msgs, 6, 8)
	failFrom = calls + 2 // the check before the write passes, the one after fails
	w := ifs.count(opWrite)
	err := ch.Msgs.Flush()
	if ifs.count(opWrite) == w {
		t.Fatal("the flush did not write: the fence before the write failed, not the one after")
	}
	if !errors.Is(err, lost) || !errors.Is(err, ErrFenced) {
		t.Fatalf("Flush that lost the lock during its write = %v; want ErrFenced wrapping %v", err, lost)
	}
}

// TestRandomFaults runs a workload on a disk that fails at random; every
// message whose Flush succeeded must be recovered, in order, intact.
func TestRandomFaults(t *testing.T) {
	for seed := range uint64(8) {
		t.Run("", func(t *testing.T) { testRandomFaults(t, seed) })
	}
}

func testRandomFaults(t *testing.T, seed uint64) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(seed, 2))
	s, ifs, ch := faultStore(t, dir, func(c *Config) {
		c.BufferSize = 4096
		c.SliceMaxMsgs = 50
	})
	ifs.setInjector(func(o op, path string, _ int) (error, bool) {
		if (o == opWrite || o == opSync || o == opTruncate || o == opSyncDir) && rng.IntN(20) == 0 {
			return syscall.EIO, rng.IntN(2) == 0
		}
		return nil, false
	})
	acked := map[uint64]bool{}
	var pending []uint64
	seq := uint64(0)
	failures := 0
	for range 300 {
		for range 1 + rng.IntN(5) {
			seq++
			if err := ch.Msgs.Store(testMsg("foo", seq)); err != nil {
				failures++ // this message only
				continue
			}
			pending = append(pending, seq)
		}
		if err := ch.Msgs.Flush(); err != nil {
			failures++
			pending = nil
			continue
		}
		for _, p := range pending {
			acked[p] = true
		}
		pending = nil
	}
	if failures == 0 {
		t.Fatal("no fault was injected")
	}
	ifs.setInjector(nil)
	must(t, s.Close())
	_, rs, err := recoverDir(t, dir, testConfig(t))
	must(t, err)
	ms := rs.Channels["foo"].Channel.Msgs
	for q := uint64(1); q <= seq; q++ {
		m, err := ms.Lookup(q)
		must(t, err)
		if acked[q] && (m == nil || m.Sequence != q || m.Data[0] != byte(q)) {
			t.Fatalf("acked message %d lost or damaged: %v", q, m)
		}
		if !acked[q] && m != nil {
			t.Fatalf("message %d whose flush failed was recovered", q)
		}
	}
	t.Logf("%d acked, %d failures", len(acked), failures)
}

// TestSliceFilesOfFailedFlushRemoved: slices created by a failed batch are
// removed by the rollback.
func TestSliceFilesOfFailedFlushRemoved(t *testing.T) {
	dir := t.TempDir()
	_, ifs, ch := faultStore(t, dir, func(c *Config) { c.SliceMaxMsgs = 2 })
	storeRange(t, ch.Msgs, 1, 2)
	must(t, ch.Msgs.Flush())
	ifs.setInjector(func(o op, path string, _ int) (error, bool) {
		if o == opSync {
			return syscall.EIO, false
		}
		return nil, false
	})
	storeRange(t, ch.Msgs, 3, 7)
	if err := ch.Msgs.Flush(); err == nil {
		t.Fatal("Flush succeeded")
	}
	ifs.setInjector(nil)
	ents, err := os.ReadDir(filepath.Join(chanDir(dir, "foo")))
	must(t, err)
	for _, e := range ents {
		if n, _, ok := parseSliceName(e.Name()); ok && n > 1 {
			t.Fatalf("slice file %s of a failed flush left behind", e.Name())
		}
	}
	storeRange(t, ch.Msgs, 3, 7)
	must(t, ch.Msgs.Flush())
	checkMsgs(t, ch.Msgs, 1, 7)
}

type countMetrics struct {
	mu    sync.Mutex
	calls int
	files int
}

func (m *countMetrics) FsyncLatency(_ time.Duration, batch int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	m.files += batch
}

func (m *countMetrics) get() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// TestAutoSync: with DoSync off, Flush does not fsync and the background
// auto-sync does; every fsync batch is reported to Metrics.
func TestAutoSync(t *testing.T) {
	m := &countMetrics{}
	_, ifs, ch := faultStore(t, t.TempDir(), func(c *Config) {
		c.DoSync = false
		c.AutoSync = time.Second
		c.Metrics = m
	})
	sub := &store.SubState{ClientID: "c"}
	must(t, ch.Subs.CreateSub(sub))
	storeRange(t, ch.Msgs, 1, 10)
	before, calls := ifs.count(opSync), m.get()
	must(t, ch.Msgs.Flush())
	must(t, ch.Subs.Flush())
	if ifs.count(opSync) != before {
		t.Fatal("Flush fsynced with DoSync off")
	}
	deadline := time.Now().Add(10 * time.Second)
	for ifs.writesTo(subsFile) == 0 || ifs.count(opSync) < before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("auto-sync did not fsync within 10 s (%d fsyncs)", ifs.count(opSync)-before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m.get() <= calls {
		t.Fatal("fsyncs were not reported to Metrics")
	}
}

// TestFDsLimit: older slices' files are closed above the soft limit and
// reopened on demand.
func TestFDsLimit(t *testing.T) {
	s, _, ch := faultStore(t, t.TempDir(), func(c *Config) {
		c.FDsLimit = 2
		c.SliceMaxMsgs = 5
	})
	storeRange(t, ch.Msgs, 1, 50)
	must(t, ch.Msgs.Flush())
	checkMsgs(t, ch.Msgs, 1, 50)
	ms := ch.Msgs.(*msgStore)
	deadline := time.Now().Add(10 * time.Second)
	for ms.openOldSlices() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d older slices still open 10 s later", ms.openOldSlices())
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkMsgs(t, ch.Msgs, 1, 50)
	must(t, s.Close())
}
