package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
	"github.com/stanft/stanft/store/storetest"
)

// refStore is a deliberately naive persistent store used to test the suite
// itself, recovery cases included: its "disk" (refData) survives Close and
// is handed to the reopened store. MaxAge is checked once a second, as a
// file store does, to prove the suite tolerates that granularity.
type refStore struct {
	limits store.Limits
	data   *refData
	bug    string // a deliberate defect, to prove the suite catches it

	mu     sync.Mutex
	closed bool
	open   map[string]*refChan
	quit   chan struct{}
	done   chan struct{}
}

type refData struct {
	info     *store.ServerInfo
	clients  map[string]store.Client
	channels map[string]*refChanData
}

type refChanData struct {
	msgs   []*pb.MsgProto
	last   uint64
	lastID uint64
	subs   map[uint64]*refSub
}

type refSub struct {
	state   store.SubState
	maxSent uint64
	pending map[uint64]struct{}
}

type refChan struct {
	st     *refStore
	name   string
	lim    store.ChannelLimits
	d      *refChanData
	closed bool
}

type refMsgs struct{ *refChan }
type refSubs struct{ *refChan }

var _ store.Store = (*refStore)(nil)

func openRef(l store.Limits, d *refData, bug string) *refStore {
	s := &refStore{limits: l.Clone(), data: d, bug: bug, open: map[string]*refChan{},
		quit: make(chan struct{}), done: make(chan struct{})}
	go s.expireLoop()
	return s
}

func (s *refStore) expireLoop() {
	defer close(s.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		now := time.Now().UnixNano()
		for _, c := range s.open {
			if c.lim.MaxAge <= 0 || s.bug == "no-expiry" {
				continue
			}
			for len(c.d.msgs) > 0 && now-c.d.msgs[0].Timestamp >= int64(c.lim.MaxAge) {
				c.d.msgs = c.d.msgs[1:]
			}
		}
		s.mu.Unlock()
	}
}

func (s *refStore) Type() string { return store.TypeFile }

func (s *refStore) Recover(context.Context) (*store.RecoveredState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	if s.data.info == nil {
		return nil, nil
	}
	info := *s.data.info
	rs := &store.RecoveredState{Info: &info, Channels: map[string]*store.RecoveredChannel{}}
	for _, c := range s.data.clients {
		c.ConnID = slices.Clone(c.ConnID)
		rs.Clients = append(rs.Clients, &c)
	}
	for name, d := range s.data.channels {
		if s.bug == "forget-last-when-empty" && len(d.msgs) == 0 {
			d.last = 0
		}
		if s.bug == "id-from-survivors" {
			d.lastID = 0
			for id := range d.subs {
				d.lastID = max(d.lastID, id)
			}
		}
		c := &refChan{st: s, name: name, lim: s.limits.ForChannel(name), d: d}
		s.open[name] = c
		rc := &store.RecoveredChannel{Channel: &store.Channel{Msgs: refMsgs{c}, Subs: refSubs{c}}}
		for _, sub := range d.subs {
			st := sub.state
			if s.bug != "stored-lastsent" {
				st.LastSent = max(st.LastSent, sub.maxSent)
			}
			rc.Subs = append(rc.Subs, &store.RecoveredSub{Sub: &st, Pending: maps.Clone(sub.pending)})
		}
		rs.Channels[name] = rc
	}
	return rs, nil
}

func (s *refStore) Init(info *store.ServerInfo) error {
	if info == nil {
		return errors.New("ref: nil info")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	c := *info
	s.data.info = &c
	return nil
}

func (s *refStore) AddClient(c *store.Client) error {
	if c == nil {
		return errors.New("ref: nil client")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	cc := *c
	cc.ConnID = slices.Clone(c.ConnID)
	s.data.clients[c.ID] = cc
	return nil
}

func (s *refStore) DeleteClient(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	delete(s.data.clients, id)
	return nil
}

func (s *refStore) CreateChannel(name string) (*store.Channel, error) {
	if !store.IsChannelNameValid(name, false) {
		return nil, errors.New("ref: invalid channel name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	if _, ok := s.data.channels[name]; ok {
		return nil, store.ErrAlreadyExists
	}
	if s.limits.MaxChannels > 0 && len(s.data.channels) >= s.limits.MaxChannels {
		return nil, store.ErrTooManyChannels
	}
	d := &refChanData{subs: map[uint64]*refSub{}}
	s.data.channels[name] = d
	c := &refChan{st: s, name: name, lim: s.limits.ForChannel(name), d: d}
	s.open[name] = c
	return &store.Channel{Msgs: refMsgs{c}, Subs: refSubs{c}}, nil
}

func (s *refStore) DeleteChannel(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if _, ok := s.data.channels[name]; !ok {
		return store.ErrNotFound
	}
	delete(s.data.channels, name)
	if c := s.open[name]; c != nil {
		c.closed = true
		delete(s.open, name)
	}
	return nil
}

func (s *refStore) Limits() store.Limits { return s.limits.Clone() }

func (s *refStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	<-s.done
	return nil
}

// lock locks the store and reports whether the channel is usable.
func (c *refChan) lock() error {
	c.st.mu.Lock()
	if c.closed || c.st.closed {
		c.st.mu.Unlock()
		return store.ErrClosed
	}
	return nil
}

func (c *refChan) unlock() { c.st.mu.Unlock() }

func (c *refChan) Close() error { c.st.mu.Lock(); c.closed = true; c.st.mu.Unlock(); return nil }

func (c *refChan) Flush() error {
	if err := c.lock(); err != nil {
		return err
	}
	c.unlock()
	return nil
}

func (m refMsgs) Store(msg *pb.MsgProto) error {
	if msg == nil {
		return errors.New("ref: nil message")
	}
	if err := m.lock(); err != nil {
		return err
	}
	defer m.unlock()
	d := m.d
	if msg.Sequence <= d.last {
		return nil
	}
	cp := *msg
	d.msgs = append(d.msgs, &cp)
	d.last = msg.Sequence
	keep := 1
	if m.st.bug == "keep-none" {
		keep = 0
	}
	for len(d.msgs) > keep && ((m.lim.MaxMsgs > 0 && len(d.msgs) > m.lim.MaxMsgs) ||
		(m.lim.MaxBytes > 0 && m.bytes() > uint64(m.lim.MaxBytes))) {
		d.msgs = d.msgs[1:]
	}
	return nil
}

func (m refMsgs) bytes() uint64 {
	var b uint64
	for _, msg := range m.d.msgs {
		b += uint64(msg.Size()) + 40 // a file store's record overhead
	}
	return b
}

func (m refMsgs) Lookup(seq uint64) (*pb.MsgProto, error) {
	if err := m.lock(); err != nil {
		return nil, err
	}
	defer m.unlock()
	i := sort.Search(len(m.d.msgs), func(i int) bool { return m.d.msgs[i].Sequence >= seq })
	if i < len(m.d.msgs) && m.d.msgs[i].Sequence == seq {
		cp := *m.d.msgs[i]
		return &cp, nil
	}
	return nil, nil
}

func (m refMsgs) FirstAndLastSequence() (uint64, uint64, error) {
	if err := m.lock(); err != nil {
		return 0, 0, err
	}
	defer m.unlock()
	if len(m.d.msgs) == 0 {
		if m.d.last == 0 {
			return 0, 0, nil
		}
		return m.d.last + 1, m.d.last, nil
	}
	return m.d.msgs[0].Sequence, m.d.last, nil
}

func (m refMsgs) GetSequenceFromTimestamp(ts int64) (uint64, error) {
	if err := m.lock(); err != nil {
		return 0, err
	}
	defer m.unlock()
	if m.d.last == 0 {
		return 0, nil
	}
	for _, msg := range m.d.msgs {
		if msg.Timestamp >= ts {
			return msg.Sequence, nil
		}
	}
	return m.d.last + 1, nil
}

func (m refMsgs) State() (int, uint64, error) {
	if err := m.lock(); err != nil {
		return 0, 0, err
	}
	defer m.unlock()
	return len(m.d.msgs), m.bytes(), nil
}

func (s refSubs) CreateSub(sub *store.SubState) error {
	if sub == nil {
		return errors.New("ref: nil sub")
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.unlock()
	if s.lim.MaxSubscriptions > 0 && len(s.d.subs) >= s.lim.MaxSubscriptions {
		return store.ErrTooManySubs
	}
	s.d.lastID++
	sub.ID = s.d.lastID
	s.d.subs[sub.ID] = &refSub{state: *sub, pending: map[uint64]struct{}{}}
	return nil
}

func (s refSubs) UpdateSub(sub *store.SubState) error {
	if sub == nil {
		return errors.New("ref: nil sub")
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.unlock()
	rs, ok := s.d.subs[sub.ID]
	if !ok {
		return fmt.Errorf("ref: sub %d: %w", sub.ID, store.ErrNotFound)
	}
	rs.state = *sub
	return nil
}

func (s refSubs) DeleteSub(id uint64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.unlock()
	delete(s.d.subs, id)
	return nil
}

func (s refSubs) AddSeqPending(id, seq uint64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.unlock()
	if rs, ok := s.d.subs[id]; ok {
		rs.pending[seq] = struct{}{}
		rs.maxSent = max(rs.maxSent, seq)
	}
	return nil
}

func (s refSubs) AckSeqPending(id, seq uint64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.unlock()
	if rs, ok := s.d.subs[id]; ok && s.st.bug != "acks-lost" {
		delete(rs.pending, seq)
	}
	return nil
}

func runRef(t *testing.T, bug string) {
	newData := func() *refData {
		return &refData{clients: map[string]store.Client{}, channels: map[string]*refChanData{}}
	}
	storetest.Run(t, func(t *testing.T, l store.Limits) store.Store {
		return openRef(l, newData(), bug)
	}, storetest.Caps{
		Persistent: true,
		Reopen: func(t *testing.T, s store.Store, l store.Limits) store.Store {
			rs := s.(*refStore)
			_ = rs.Close()
			return openRef(l, rs.data, bug)
		},
	})
}

// TestSuiteAgainstReferenceStore runs the whole suite, recovery included,
// against refStore: the suite must accept a correct persistent store.
func TestSuiteAgainstReferenceStore(t *testing.T) {
	runRef(t, os.Getenv(bugEnv))
}

const bugEnv = "STORETEST_REF_BUG"

// TestSuiteCatchesDefects runs the suite in a child process against
// refStore variants with one defect each, and expects the named case to
// fail.
func TestSuiteCatchesDefects(t *testing.T) {
	if os.Getenv(bugEnv) != "" {
		t.Skip("child process")
	}
	for _, tc := range []struct{ bug, failing string }{
		{"no-expiry", "Msgs/MaxAge"},
		{"keep-none", "Msgs/MaxBytesKeepsAtLeastOne"},
		{"stored-lastsent", "Recovery/Everything"},
		{"id-from-survivors", "Recovery/Everything"},
		{"acks-lost", "Recovery/Everything"},
		{"forget-last-when-empty", "Recovery/MaxAgeAcrossRecovery"},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSuiteAgainstReferenceStore$", "-test.v")
			cmd.Env = append(os.Environ(), bugEnv+"="+tc.bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with defect %q:\n%s", tc.bug, out)
			}
			if want := "--- FAIL: TestSuiteAgainstReferenceStore/" + tc.failing; !strings.Contains(string(out), want) {
				t.Fatalf("defect %q: output lacks %q:\n%s", tc.bug, want, out)
			}
		})
	}
}
