package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/stan.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/filestore"
	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/server/servertest"
	"github.com/stanft/stanft/store"
)

// faultStore is a memory store with injectable write errors. Its message
// stores honour the store.MsgStore contract of a disk store: stored
// messages are buffered and reach the memory store on Flush, and a failed
// Flush discards them (as filestore does). Only the errors are injected;
// everything else is the real memory store.
type faultStore struct {
	*memstore.Store
	err         atomic.Pointer[error] // error injected while set
	storeFails  atomic.Bool           // MsgStore.Store fails with err
	flushFails  atomic.Bool           // MsgStore.Flush fails with err
	subFlushErr atomic.Bool           // SubStore.Flush fails with err
}

func newFaultStore(t *testing.T, injected error) *faultStore {
	t.Helper()
	ms, err := memstore.New(memstore.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	fs := &faultStore{Store: ms}
	fs.err.Store(&injected)
	return fs
}

func (f *faultStore) clear() {
	f.storeFails.Store(false)
	f.flushFails.Store(false)
	f.subFlushErr.Store(false)
}

func (f *faultStore) CreateChannel(name string) (*store.Channel, error) {
	c, err := f.Store.CreateChannel(name)
	if err != nil {
		return nil, err
	}
	return &store.Channel{
		Msgs: &faultMsgs{MsgStore: c.Msgs, f: f},
		Subs: &faultSubs{SubStore: c.Subs, f: f},
	}, nil
}

type faultMsgs struct {
	store.MsgStore
	f *faultStore

	mu      sync.Mutex
	pending []*pb.MsgProto
}

func (m *faultMsgs) Store(msg *pb.MsgProto) error {
	if m.f.storeFails.Load() {
		return fmt.Errorf("faultstore: write: %w", *m.f.err.Load())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = append(m.pending, msg)
	return nil
}

func (m *faultMsgs) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	batch := m.pending
	m.pending = nil
	if m.f.flushFails.Load() {
		return fmt.Errorf("faultstore: fsync: %w", *m.f.err.Load())
	}
	for _, msg := range batch {
		if err := m.MsgStore.Store(msg); err != nil {
			return err
		}
	}
	return m.MsgStore.Flush()
}

type faultSubs struct {
	store.SubStore
	f *faultStore
}

func (s *faultSubs) Flush() error {
	if s.f.subFlushErr.Load() {
		return fmt.Errorf("faultstore: fsync subs: %w", *s.f.err.Load())
	}
	return s.SubStore.Flush()
}

// pubResult is the outcome of one async publish, seen by its ack handler.
type pubResult struct {
	guid string
	err  error
}

func publishAsync(t *testing.T, sc stan.Conn, n int, data string) []pubResult {
	t.Helper()
	results := make(chan pubResult, n)
	for i := range n {
		if _, err := sc.PublishAsync("foo", fmt.Appendf(nil, "%s-%d", data, i), func(guid string, err error) {
			results <- pubResult{guid, err}
		}); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]pubResult, 0, n)
	for range n {
		select {
		case r := <-results:
			out = append(out, r)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d acks", len(out), n)
		}
	}
	return out
}

func TestStoreErrorsFailPublishesOnly(t *testing.T) {
	enospc := syscall.ENOSPC
	fs := newFaultStore(t, enospc)
	var fatalCalls atomic.Int32
	cfg := servertest.Config(t)
	cfg.ClusterID = clusterID
	cfg.OnFatal = func(error) { fatalCalls.Add(1) }
	s, url := servertest.StartServerWithStore(t, cfg, fs)
	t.Cleanup(fs.clear) // runs before the server's Close
	sc := connect(t, url, "c", stan.PubAckWait(2*time.Second))
	got, h := msgChan(64)
	if _, err := sc.Subscribe("foo", h); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := sc.Publish("foo", fmt.Appendf(nil, "ok-%d", i)); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, got, 2*time.Second); m.Sequence != uint64(i) {
			t.Fatalf("got seq %d, want %d", m.Sequence, i)
		}
	}

	// Flush fails: every publish of the batch gets an error ack.
	fs.flushFails.Store(true)
	for _, r := range publishAsync(t, sc, 20, "lost") {
		if r.err == nil || !strings.HasPrefix(r.err.Error(), "stan: store failure: ") ||
			!strings.Contains(r.err.Error(), enospc.Error()) {
			t.Fatalf("publish %s while flushes fail: err %v", r.guid, r.err)
		}
	}
	// Store fails: same for each message.
	fs.flushFails.Store(false)
	fs.storeFails.Store(true)
	if err := sc.Publish("foo", []byte("lost")); err == nil || !strings.HasPrefix(err.Error(), "stan: store failure: ") {
		t.Fatalf("publish while stores fail: %v", err)
	}
	noMsg(t, got, 200*time.Millisecond)

	// Still serving: state, monitoring, reads, subscriptions.
	if st := s.State(); st != server.StateStandalone || fatalCalls.Load() != 0 {
		t.Fatalf("state %s, OnFatal called %d times", st, fatalCalls.Load())
	}
	if cz, ok := s.Channel("foo", false); !ok || cz.LastSeq != 3 || cz.Msgs != 3 {
		t.Fatalf("channelsz while failing: %+v", cz)
	}
	all, h2 := msgChan(64)
	if _, err := sc.Subscribe("foo", h2, stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if m := recv(t, all, 2*time.Second); m.Sequence != uint64(i) || string(m.Data) != fmt.Sprintf("ok-%d", i) {
			t.Fatalf("replay: seq %d %q", m.Sequence, m.Data)
		}
	}

	// A subscription whose creation cannot be persisted fails.
	fs.storeFails.Store(false)
	fs.subFlushErr.Store(true)
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.DurableName("dur")); err == nil ||
		!strings.HasPrefix(err.Error(), "stan: store failure: ") {
		t.Fatalf("durable subscribe while sub flushes fail: %v", err)
	}

	// The disk has room again: everything works, sequences contiguous.
	fs.clear()
	for _, r := range publishAsync(t, sc, 5, "after") {
		if r.err != nil {
			t.Fatalf("publish after recovery: %v", r.err)
		}
	}
	for _, ch := range []chan *stan.Msg{got, all} {
		for i := 4; i <= 8; i++ {
			if m := recv(t, ch, 2*time.Second); m.Sequence != uint64(i) || !strings.HasPrefix(string(m.Data), "after-") {
				t.Fatalf("after recovery: seq %d %q, want seq %d", m.Sequence, m.Data, i)
			}
		}
	}
	noMsg(t, got, 100*time.Millisecond)
	dur, h3 := msgChan(64)
	if _, err := sc.Subscribe("foo", h3, stan.DurableName("dur"), stan.DeliverAllAvailable()); err != nil {
		t.Fatalf("durable subscribe after recovery: %v", err)
	}
	for i := 1; i <= 8; i++ {
		if m := recv(t, dur, 2*time.Second); m.Sequence != uint64(i) {
			t.Fatalf("durable: seq %d, want %d", m.Sequence, i)
		}
	}
	if cz, _ := s.Channel("foo", false); cz.LastSeq != 8 || cz.Msgs != 8 {
		t.Fatalf("channelsz after recovery: %+v", cz)
	}
	if s.State() != server.StateStandalone || fatalCalls.Load() != 0 {
		t.Fatalf("state %s, OnFatal called %d times", s.State(), fatalCalls.Load())
	}
}

func TestFencedStoreIsFatal(t *testing.T) {
	fs := newFaultStore(t, fmt.Errorf("lock lost: %w", store.ErrFenced))
	fatal := make(chan error, 2)
	cfg := servertest.Config(t)
	cfg.ClusterID = clusterID
	cfg.OnFatal = func(err error) { fatal <- err }
	s, url := servertest.StartServerWithStore(t, cfg, fs)
	t.Cleanup(fs.clear) // runs before the server's Close
	sc := connect(t, url, "c", stan.PubAckWait(500*time.Millisecond))
	if err := sc.Publish("foo", nil); err != nil {
		t.Fatal(err)
	}
	fs.flushFails.Store(true)
	if err := sc.Publish("foo", nil); err == nil || err.Error() != "stan: publish ack timeout" {
		t.Fatalf("publish with fenced store: %v", err)
	}
	select {
	case err := <-fatal:
		if !errors.Is(err, store.ErrFenced) {
			t.Fatalf("OnFatal(%v), want store.ErrFenced", err)
		}
	case <-time.After(time.Second):
		t.Fatal("OnFatal not called")
	}
	if s.State() != server.StateFailed {
		t.Fatalf("state %s", s.State())
	}
	// Even once writes would succeed, nothing more is acknowledged.
	fs.clear()
	if err := sc.Publish("foo", nil); err == nil {
		t.Fatal("publish acknowledged after the store was fenced")
	}
	if len(fatal) != 0 {
		t.Fatal("OnFatal called twice")
	}
}

// TestFencedFileStoreIsFatal fences a real file store through its Fence
// hook (as an FT member whose lock was lost): the server must see
// store.ErrFenced through filestore's error and stop acknowledging.
func TestFencedFileStoreIsFatal(t *testing.T) {
	var lost atomic.Bool
	fcfg := filestore.DefaultConfig()
	fcfg.Logger = servertest.Logger(t, "filestore")
	fcfg.Fence = func() error {
		if lost.Load() {
			return errors.New("lock lost")
		}
		return nil
	}
	fst, err := filestore.Open(t.TempDir(), fcfg)
	if err != nil {
		t.Fatal(err)
	}
	fatal := make(chan error, 2)
	cfg := servertest.Config(t)
	cfg.ClusterID = clusterID
	cfg.FT = true
	cfg.OnFatal = func(err error) { fatal <- err }
	s, url := servertest.StartServerWithStore(t, cfg, fst)
	sc := connect(t, url, "c", stan.PubAckWait(500*time.Millisecond))
	if err := sc.Publish("foo", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	lost.Store(true)
	if err := sc.Publish("foo", nil); err == nil || err.Error() != "stan: publish ack timeout" {
		t.Fatalf("publish with fenced store: %v", err)
	}
	select {
	case err := <-fatal:
		if !errors.Is(err, store.ErrFenced) || !errors.Is(err, filestore.ErrFenced) {
			t.Fatalf("OnFatal(%v), want store.ErrFenced", err)
		}
	case <-time.After(time.Second):
		t.Fatal("OnFatal not called")
	}
	if s.State() != server.StateFailed {
		t.Fatalf("state %s", s.State())
	}
	// Deactivating cannot flush a fenced store either.
	if err := s.Deactivate(context.Background()); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("Deactivate = %v, want store.ErrFenced", err)
	}
}
