package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// Factory opens a fresh, empty store enforcing limits. It must not call
// Recover: the suite does, and expects (nil, nil). The factory may register
// t.Cleanup functions for its own resources (t.TempDir is fine); the suite
// closes every store it gets and ignores the error of closing a store twice.
// The factory may be called inside a testing/synctest bubble, so it must not
// start goroutines that outlive the store's Close.
type Factory func(t *testing.T, limits store.Limits) store.Store

// Caps describes what the store under test can do.
type Caps struct {
	// Persistent enables the recovery cases. Reopen is then required.
	Persistent bool
	// Reopen closes s and opens the same datastore again with limits,
	// without calling Recover (the suite does). Only with Persistent.
	Reopen func(t *testing.T, s store.Store, limits store.Limits) store.Store
}

type testCase struct {
	name string
	run  func(t *testing.T, h *harness)
}

// Run runs the whole suite against the stores that f opens.
func Run(t *testing.T, f Factory, caps Caps) {
	t.Helper()
	if f == nil {
		t.Fatal("storetest: nil Factory")
	}
	if caps.Persistent && caps.Reopen == nil {
		t.Fatal("storetest: Caps.Persistent requires Caps.Reopen")
	}
	h := &harness{factory: f, caps: caps}
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Store", storeCases},
		{"Msgs", msgCases},
		{"Subs", subCases},
	}
	if caps.Persistent {
		groups = append(groups, struct {
			name  string
			cases []testCase
		}{"Recovery", recoveryCases})
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, h) })
			}
		})
	}
}

type harness struct {
	factory Factory
	caps    Caps
}

// open returns a fresh store, checks that it recovers nothing and closes it
// at cleanup.
func (h *harness) open(t *testing.T, limits store.Limits) store.Store {
	t.Helper()
	s := h.factory(t, limits)
	if s == nil {
		t.Fatal("factory returned a nil store")
	}
	t.Cleanup(func() { _ = s.Close() })
	rs, err := s.Recover(t.Context())
	if err != nil {
		t.Fatalf("Recover on a fresh store: %v", err)
	}
	if rs != nil {
		t.Fatalf("Recover on a fresh store = %+v, want nil", rs)
	}
	return s
}

// reopen closes s, reopens the datastore and recovers it.
func (h *harness) reopen(t *testing.T, s store.Store, limits store.Limits) (store.Store, *store.RecoveredState) {
	t.Helper()
	ns := h.caps.Reopen(t, s, limits)
	if ns == nil {
		t.Fatal("Reopen returned a nil store")
	}
	t.Cleanup(func() { _ = ns.Close() })
	rs, err := ns.Recover(t.Context())
	if err != nil {
		t.Fatalf("Recover after reopen: %v", err)
	}
	return ns, rs
}

// unlimited returns limits with nothing limited.
func unlimited() store.Limits { return store.Limits{} }

func mustCreate(t *testing.T, s store.Store, name string) *store.Channel {
	t.Helper()
	c, err := s.CreateChannel(name)
	if err != nil {
		t.Fatalf("CreateChannel(%q): %v", name, err)
	}
	if c == nil || c.Msgs == nil || c.Subs == nil {
		t.Fatalf("CreateChannel(%q) = %+v: missing stores", name, c)
	}
	return c
}

func testInfo(cid string) *store.ServerInfo {
	return &store.ServerInfo{
		ClusterID:   cid,
		Discovery:   "_STAN.discover." + cid,
		Publish:     "_STAN.pub." + cid,
		Subscribe:   "_STAN.sub." + cid,
		Unsubscribe: "_STAN.unsub." + cid,
		Close:       "_STAN.close." + cid,
		SubClose:    "_STAN.subclose." + cid,
		AcksSubs:    "_STAN.ack." + cid,
	}
}

func testClient(id string, gen byte) *store.Client {
	return &store.Client{
		ID:           id,
		HbInbox:      fmt.Sprintf("_INBOX.%s.%d", id, gen),
		ConnID:       []byte{'c', gen, 0, 255},
		Protocol:     1,
		PingInterval: 5,
		PingMaxOut:   3,
	}
}

func isErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

var storeCases = []testCase{
	{"Type", func(t *testing.T, h *harness) {
		s := h.open(t, unlimited())
		if typ := s.Type(); typ != store.TypeMemory && typ != store.TypeFile {
			t.Fatalf("Type() = %q", typ)
		}
		if h.caps.Persistent && s.Type() == store.TypeMemory {
			t.Fatalf("a persistent store reports type %q", s.Type())
		}
	}},
	{"LimitsAreCopied", func(t *testing.T, h *harness) {
		l := store.DefaultLimits()
		l.PerChannel = map[string]*store.ChannelLimits{
			"foo.>":   {MaxMsgs: 10},
			"foo.bar": {MaxBytes: -1},
		}
		want := l.Clone()
		s := h.open(t, l)
		got := s.Limits()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Limits() = %+v, want %+v", got, want)
		}
		got.PerChannel["foo.>"].MaxMsgs = 99
		got.MaxChannels = 1
		l.PerChannel["foo.bar"].MaxBytes = 5 // the caller's map, after open
		if again := s.Limits(); !reflect.DeepEqual(again, want) {
			t.Fatalf("Limits() changed through a copy: %+v, want %+v", again, want)
		}
	}},
	{"InitAndClients", func(t *testing.T, h *harness) {
		s := h.open(t, unlimited())
		noErr(t, "Init", s.Init(testInfo("c1")))
		if err := s.Init(nil); err == nil {
			t.Fatal("Init(nil) succeeded")
		}
		noErr(t, "AddClient", s.AddClient(testClient("a", 1)))
		noErr(t, "AddClient replace", s.AddClient(testClient("a", 2)))
		noErr(t, "AddClient", s.AddClient(testClient("b", 1)))
		noErr(t, "DeleteClient", s.DeleteClient("a"))
		noErr(t, "DeleteClient unknown", s.DeleteClient("nope"))
		if err := s.AddClient(nil); err == nil {
			t.Fatal("AddClient(nil) succeeded")
		}
	}},
	{"Channels", func(t *testing.T, h *harness) {
		l := unlimited()
		l.MaxChannels = 2
		s := h.open(t, l)
		mustCreate(t, s, "foo")
		_, err := s.CreateChannel("foo")
		isErr(t, "CreateChannel existing", err, store.ErrAlreadyExists)
		mustCreate(t, s, "bar")
		_, err = s.CreateChannel("baz")
		isErr(t, "CreateChannel beyond MaxChannels", err, store.ErrTooManyChannels)
		noErr(t, "DeleteChannel", s.DeleteChannel("foo"))
		isErr(t, "DeleteChannel again", s.DeleteChannel("foo"), store.ErrNotFound)
		c := mustCreate(t, s, "baz") // the deleted channel no longer counts
		_, err = s.CreateChannel("foo")
		isErr(t, "CreateChannel beyond MaxChannels", err, store.ErrTooManyChannels)
		f, l2, err := c.Msgs.FirstAndLastSequence()
		if err != nil || f != 0 || l2 != 0 {
			t.Fatalf("new channel FirstAndLastSequence = %d, %d, %v", f, l2, err)
		}
	}},
	{"InvalidChannelNames", func(t *testing.T, h *harness) {
		l := unlimited()
		l.MaxChannels = 1
		s := h.open(t, l)
		for _, name := range []string{"", ".foo", "foo.", "foo..bar", "foo/bar", "foo.*", "foo.>", ">"} {
			if c, err := s.CreateChannel(name); err == nil {
				t.Fatalf("CreateChannel(%q) = %+v, want an error", name, c)
			}
		}
		mustCreate(t, s, "foo.bar") // the refused names took no slot
	}},
	{"RecreatedChannelIsEmpty", func(t *testing.T, h *harness) {
		s := h.open(t, unlimited())
		c := mustCreate(t, s, "foo")
		storeSeqs(t, c.Msgs, 1, 5)
		noErr(t, "CreateSub", c.Subs.CreateSub(&store.SubState{ClientID: "a", Inbox: "in"}))
		noErr(t, "DeleteChannel", s.DeleteChannel("foo"))
		c = mustCreate(t, s, "foo")
		checkFirstLast(t, c.Msgs, 0, 0)
		checkState(t, c.Msgs, 0)
		if m, err := c.Msgs.Lookup(1); err != nil || m != nil {
			t.Fatalf("Lookup(1) in recreated channel = %v, %v", m, err)
		}
	}},
	{"DeletedChannelStoresAreClosed", func(t *testing.T, h *harness) {
		s := h.open(t, unlimited())
		c := mustCreate(t, s, "foo")
		storeSeqs(t, c.Msgs, 1, 2)
		noErr(t, "DeleteChannel", s.DeleteChannel("foo"))
		isErr(t, "Msgs.Store after DeleteChannel", c.Msgs.Store(newMsg("foo", 3, 3)), store.ErrClosed)
		_, err := c.Msgs.Lookup(1)
		isErr(t, "Msgs.Lookup after DeleteChannel", err, store.ErrClosed)
		isErr(t, "Subs.CreateSub after DeleteChannel", c.Subs.CreateSub(&store.SubState{}), store.ErrClosed)
	}},
	{"ClosedStore", func(t *testing.T, h *harness) {
		s := h.open(t, unlimited())
		c := mustCreate(t, s, "foo")
		storeSeqs(t, c.Msgs, 1, 2)
		noErr(t, "Close", s.Close())
		isErr(t, "Init after Close", s.Init(testInfo("x")), store.ErrClosed)
		isErr(t, "AddClient after Close", s.AddClient(testClient("a", 1)), store.ErrClosed)
		isErr(t, "DeleteClient after Close", s.DeleteClient("a"), store.ErrClosed)
		_, err := s.CreateChannel("bar")
		isErr(t, "CreateChannel after Close", err, store.ErrClosed)
		isErr(t, "DeleteChannel after Close", s.DeleteChannel("foo"), store.ErrClosed)
		isErr(t, "Close again", s.Close(), store.ErrClosed)
		isErr(t, "Msgs.Store after Close", c.Msgs.Store(newMsg("foo", 3, 3)), store.ErrClosed)
		isErr(t, "Msgs.Flush after Close", c.Msgs.Flush(), store.ErrClosed)
		isErr(t, "Subs.Flush after Close", c.Subs.Flush(), store.ErrClosed)
		// Closing a channel's stores after the store is closed is harmless.
		noErr(t, "Msgs.Close after Close", c.Msgs.Close())
		noErr(t, "Subs.Close after Close", c.Subs.Close())
	}},
	{"Concurrency", testConcurrency},
}

// testConcurrency exercises the documented concurrency model under -race:
// one writer per channel, concurrent readers, concurrent channel and client
// operations.
func testConcurrency(t *testing.T, h *harness) {
	s := h.open(t, unlimited())
	noErr(t, "Init", s.Init(testInfo("c")))
	const writers, msgs = 4, 200
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	chans := make([]*store.Channel, writers)
	for w := range writers {
		name := fmt.Sprintf("conc.%d", w)
		c := mustCreate(t, s, name)
		chans[w] = c
		wg.Add(3)
		go func() { // the channel's single writer
			defer wg.Done()
			for i := uint64(1); i <= msgs; i++ {
				if err := c.Msgs.Store(newMsg(name, i, int64(i))); err != nil {
					report(err)
					return
				}
				if i%16 == 0 {
					if err := c.Msgs.Flush(); err != nil {
						report(err)
						return
					}
				}
				if i%50 == 0 {
					sub := &store.SubState{ClientID: "c", Inbox: "in", MaxInFlight: 1}
					if err := c.Subs.CreateSub(sub); err != nil {
						report(err)
						return
					}
					if err := c.Subs.AddSeqPending(sub.ID, i); err != nil {
						report(err)
						return
					}
				}
			}
		}()
		go func() { // a concurrent reader
			defer wg.Done()
			for i := uint64(1); i <= msgs; i++ {
				m, err := c.Msgs.Lookup(i)
				if err != nil {
					report(err)
					return
				}
				if m != nil && m.Sequence != i {
					report(fmt.Errorf("Lookup(%d) returned seq %d", i, m.Sequence))
					return
				}
				if _, _, err := c.Msgs.FirstAndLastSequence(); err != nil {
					report(err)
					return
				}
				if _, _, err := c.Msgs.State(); err != nil {
					report(err)
					return
				}
			}
		}()
		go func() { // clients and channels churn on the store
			defer wg.Done()
			for i := range 50 {
				id := fmt.Sprintf("cl%d.%d", w, i)
				if err := s.AddClient(testClient(id, 1)); err != nil {
					report(err)
					return
				}
				if err := s.DeleteClient(id); err != nil {
					report(err)
					return
				}
				tmp := fmt.Sprintf("tmp.%d.%d", w, i)
				if _, err := s.CreateChannel(tmp); err != nil {
					report(err)
					return
				}
				if err := s.DeleteChannel(tmp); err != nil {
					report(err)
					return
				}
			}
		}()
	}
	// Racing creations of one name: exactly one wins.
	var created sync.WaitGroup
	wins := make(chan struct{}, 8)
	for range 8 {
		created.Add(1)
		go func() {
			defer created.Done()
			_, err := s.CreateChannel("race")
			switch {
			case err == nil:
				wins <- struct{}{}
			case !errors.Is(err, store.ErrAlreadyExists):
				report(err)
			}
		}()
	}
	created.Wait()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(wins); n != 1 {
		t.Errorf("%d concurrent CreateChannel of one name succeeded, want 1", n)
	}
	for _, c := range chans {
		checkFirstLast(t, c.Msgs, 1, msgs)
		checkState(t, c.Msgs, msgs)
	}
}

// newMsg returns a message of channel ch with sequence seq and timestamp ts
// and a payload that identifies it.
func newMsg(ch string, seq uint64, ts int64) *pb.MsgProto {
	return &pb.MsgProto{
		Sequence:  seq,
		Subject:   ch,
		Reply:     "reply." + ch,
		Data:      []byte(fmt.Sprintf("%s-%d", ch, seq)),
		Timestamp: ts,
	}
}
