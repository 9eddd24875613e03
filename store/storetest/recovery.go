package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// recoveryCases run only with Caps.Persistent.
var recoveryCases = []testCase{
	{"NothingWrittenRecoversNothing", func(t *testing.T, h *harness) {
		s := h.open(t, unlimited())
		_, rs := h.reopen(t, s, unlimited())
		if rs != nil {
			t.Fatalf("Recover of a datastore without server info = %+v, want nil", rs)
		}
	}},
	{"InfoOnly", func(t *testing.T, h *harness) {
		w := newRecorder(t, h.open(t, unlimited()))
		w.init(testInfo("only"))
		w.reopenAndCheck(h, unlimited())
	}},
	{"Everything", testRecoverEverything},
	{"LimitsApplied", func(t *testing.T, h *harness) {
		l := unlimited()
		l.MaxMsgs = 5
		w := newRecorder(t, h.open(t, l))
		w.init(testInfo("lim"))
		w.createChannel("foo")
		w.storeMsgs("foo", 1, 10)
		w.flushAll()
		rs := w.reopenAndCheck(h, l)
		checkFirstLast(t, rs.Channels["foo"].Channel.Msgs, 6, 10)
	}},
	{"CloseFlushes", func(t *testing.T, h *harness) {
		w := newRecorder(t, h.open(t, unlimited()))
		w.init(testInfo("close"))
		w.addClient(testClient("a", 1))
		w.createChannel("foo")
		w.storeMsgs("foo", 1, 5)
		id := w.createSub("foo", newSub("a", 1))
		w.flushAll()
		// Not flushed: Close must write these.
		w.storeMsgs("foo", 6, 8)
		w.addPending("foo", id, 6)
		w.addPending("foo", id, 7)
		w.ack("foo", id, 6)
		w.updateSub("foo", id, func(s *store.SubState) { s.MaxInFlight = 99 })
		w.createSub("foo", newSub("a", 2))
		w.snapshot()
		w.reopenAndCheck(h, unlimited())
	}},
	{"Churn", testRecoverChurn},
	{"MaxAgeAcrossRecovery", testRecoverMaxAge},
	{"RecoveredChannelsCount", func(t *testing.T, h *harness) {
		l := unlimited()
		l.MaxChannels = 2
		w := newRecorder(t, h.open(t, l))
		w.init(testInfo("mc"))
		w.createChannel("a")
		w.createChannel("b")
		w.flushAll()
		w.reopenAndCheck(h, l)
		_, err := w.s.CreateChannel("c")
		isErr(t, "CreateChannel beyond MaxChannels after recovery", err, store.ErrTooManyChannels)
		_, err = w.s.CreateChannel("a")
		isErr(t, "CreateChannel of a recovered channel", err, store.ErrAlreadyExists)
	}},
}

// testRecoverChurn: many records of every kind, messages dropped by
// MaxMsgs, many replacements and deletions, recovered twice.
func testRecoverChurn(t *testing.T, h *harness) {
	l := unlimited()
	l.MaxMsgs = 1500
	w := newRecorder(t, h.open(t, l))
	w.init(testInfo("churn"))
	for round := range 3 {
		for i := range 40 {
			w.addClient(testClient(fmt.Sprintf("cl%d", i), byte(round)))
		}
	}
	for i := 0; i < 40; i += 2 {
		w.deleteClient(fmt.Sprintf("cl%d", i))
	}
	w.createChannel("big")
	var ids []uint64
	for i := range 20 {
		sub := newSub(fmt.Sprintf("cl%d", i), i)
		if i%4 == 0 {
			sub.IsDurable, sub.DurableName = true, fmt.Sprintf("dur%d", i)
		}
		ids = append(ids, w.createSub("big", sub))
	}
	for seq := uint64(1); seq <= 3000; seq++ {
		m := newMsg("big", seq, int64(seq)*1000)
		m.Data = bytes.Repeat([]byte{byte(seq)}, int(seq%7)*300)
		w.storeMsg("big", m)
		id := ids[seq%uint64(len(ids))]
		w.addPending("big", id, seq)
		if seq%3 != 0 {
			w.ack("big", id, seq)
		}
		if seq%100 == 0 {
			w.updateSub("big", id, func(s *store.SubState) { s.LastSent = seq - 50 })
			w.flushAll()
		}
	}
	for i, id := range ids {
		if i%5 == 0 {
			w.deleteSub("big", id)
		}
	}
	w.flushAll()
	w.reopenAndCheck(h, l)
	for seq := uint64(3001); seq <= 3100; seq++ {
		w.storeMsg("big", newMsg("big", seq, int64(seq)*1000))
		w.addPending("big", ids[1], seq)
	}
	w.flushAll()
	w.reopenAndCheck(h, l)
}

// testRecoverMaxAge: expiry continues on recovered messages, and a channel
// whose messages all expired keeps its sequence position across recovery
// (first = last+1), so sequences are never reused.
func testRecoverMaxAge(t *testing.T, h *harness) {
	synctest.Test(t, func(t *testing.T) {
		l := unlimited()
		l.MaxAge = 10 * time.Second
		s := h.open(t, l)
		noErr(t, "Init", s.Init(testInfo("age")))
		c := mustCreate(t, s, "foo")
		start := time.Now()
		for seq := uint64(1); seq <= 3; seq++ {
			noErr(t, "Store", c.Msgs.Store(newMsg("foo", seq, time.Now().UnixNano())))
		}
		time.Sleep(8 * time.Second)
		m4 := newMsg("foo", 4, time.Now().UnixNano())
		noErr(t, "Store", c.Msgs.Store(m4))
		noErr(t, "Flush", c.Msgs.Flush())
		noErr(t, "Flush", c.Subs.Flush())
		time.Sleep(time.Second)

		s, rs := h.reopen(t, s, l) // at 9 s: nothing expired yet
		if rs == nil || rs.Channels["foo"] == nil {
			t.Fatalf("recovered state = %+v, want channel foo", rs)
		}
		c = rs.Channels["foo"].Channel
		checkFirstLast(t, c.Msgs, 1, 4)

		time.Sleep(start.Add(14 * time.Second).Sub(time.Now()))
		synctest.Wait()
		checkFirstLast(t, c.Msgs, 4, 4)
		checkLookup(t, c.Msgs, m4)

		time.Sleep(start.Add(21 * time.Second).Sub(time.Now()))
		synctest.Wait()
		checkFirstLast(t, c.Msgs, 5, 4)

		s, rs = h.reopen(t, s, l)
		if rs == nil || rs.Channels["foo"] == nil {
			t.Fatalf("recovered state = %+v, want channel foo", rs)
		}
		c = rs.Channels["foo"].Channel
		checkFirstLast(t, c.Msgs, 5, 4)
		checkState(t, c.Msgs, 0)
		checkSeqFromTS(t, c.Msgs, 0, 5)
		m5 := newMsg("foo", 5, time.Now().UnixNano())
		noErr(t, "Store", c.Msgs.Store(m5))
		checkFirstLast(t, c.Msgs, 5, 5)
		checkLookup(t, c.Msgs, m5)
		noErr(t, "Close", s.Close())
	})
}

// testRecoverEverything writes every kind of record, recovers, writes more
// on the recovered store, and recovers again.
func testRecoverEverything(t *testing.T, h *harness) {
	l := unlimited()
	w := newRecorder(t, h.open(t, l))
	w.init(testInfo("every"))
	w.addClient(testClient("a", 1))
	w.addClient(testClient("b", 1))
	w.addClient(testClient("c", 1))
	w.addClient(testClient("b", 2)) // replaced: new HbInbox and ConnID
	w.deleteClient("c")

	w.createChannel("foo")
	w.storeMsgs("foo", 1, 10)
	// s1: plain sub, stored LastSent lags behind the sent records.
	s1 := w.createSub("foo", newSub("a", 1))
	for seq := uint64(1); seq <= 5; seq++ {
		w.addPending("foo", s1, seq)
	}
	w.ack("foo", s1, 2)
	w.ack("foo", s1, 4)
	w.updateSub("foo", s1, func(s *store.SubState) { s.LastSent = 3 })
	// s2: durable that went offline; stored LastSent ahead of the records;
	// everything acked.
	s2 := w.createSub("foo", func() *store.SubState {
		s := newSub("a", 2)
		s.IsDurable, s.DurableName = true, "dur"
		return s
	}())
	for seq := uint64(1); seq <= 3; seq++ {
		w.addPending("foo", s2, seq)
		w.ack("foo", s2, seq)
	}
	w.updateSub("foo", s2, func(s *store.SubState) { s.LastSent, s.IsClosed, s.ClientID = 8, true, "" })
	// s3: deleted with pending messages.
	s3 := w.createSub("foo", newSub("b", 3))
	w.addPending("foo", s3, 6)
	w.deleteSub("foo", s3)
	// s4: durable queue group member with pending messages.
	s4 := w.createSub("foo", func() *store.SubState {
		s := newSub("b", 4)
		s.QGroup, s.IsDurable = "dq:grp", true
		return s
	}())
	w.addPending("foo", s4, 7)
	w.addPending("foo", s4, 8)
	// s5: the highest ID, deleted: its ID must not come back.
	s5 := w.createSub("foo", newSub("b", 5))
	w.deleteSub("foo", s5)

	w.createChannel("empty")
	w.createSub("empty", newSub("a", 6))

	w.createChannel("gone")
	w.storeMsgs("gone", 1, 3)
	w.createSub("gone", newSub("a", 7))
	w.flushAll()
	w.deleteChannel("gone")

	w.createChannel("gaps")
	for _, seq := range []uint64{2, 3, 9} {
		w.storeMsg("gaps", newMsg("gaps", seq, int64(seq)*1000))
	}
	w.flushAll()

	w.reopenAndCheck(h, l)

	// Second life: write on the recovered store, recover again.
	w.storeMsg("foo", newMsg("foo", 10, 1)) // not above last: ignored
	w.storeMsgs("foo", 11, 12)
	w.ack("foo", s1, 1)
	w.addPending("foo", s1, 11)
	w.ack("foo", s4, 7)
	w.updateSub("foo", s2, func(s *store.SubState) { s.IsClosed, s.ClientID = false, "d" }) // durable resumed
	w.addPending("foo", s2, 9)
	w.createSub("foo", newSub("d", 8))
	w.deleteClient("a")
	w.addClient(testClient("d", 1))
	w.storeMsgs("empty", 1, 2)
	w.createChannel("gone") // recreated: a new, empty channel
	w.flushAll()

	w.reopenAndCheck(h, l)
}

// recorder applies operations to a store and to a model of what the store
// must recover.
type recorder struct {
	t        *testing.T
	s        store.Store
	info     *store.ServerInfo
	clients  map[string]*store.Client
	channels map[string]*chanModel
}

type chanModel struct {
	c     *store.Channel
	msgs  map[uint64]*pb.MsgProto
	first uint64
	last  uint64
	maxID uint64 // highest sub ID ever assigned
	subs  map[uint64]*subModel
	bytes uint64 // State bytes at the last flushAll
}

type subModel struct {
	state   store.SubState
	maxSent uint64
	pending map[uint64]struct{}
}

func newRecorder(t *testing.T, s store.Store) *recorder {
	return &recorder{t: t, s: s, clients: map[string]*store.Client{}, channels: map[string]*chanModel{}}
}

func (w *recorder) init(info *store.ServerInfo) {
	w.t.Helper()
	noErr(w.t, "Init", w.s.Init(info))
	c := *info
	w.info = &c
}

func (w *recorder) addClient(c *store.Client) {
	w.t.Helper()
	noErr(w.t, "AddClient", w.s.AddClient(c))
	cc := *c
	cc.ConnID = slices.Clone(c.ConnID)
	w.clients[c.ID] = &cc
}

func (w *recorder) deleteClient(id string) {
	w.t.Helper()
	noErr(w.t, "DeleteClient", w.s.DeleteClient(id))
	delete(w.clients, id)
}

func (w *recorder) createChannel(name string) {
	w.t.Helper()
	w.channels[name] = &chanModel{
		c:    mustCreate(w.t, w.s, name),
		msgs: map[uint64]*pb.MsgProto{},
		subs: map[uint64]*subModel{},
	}
}

func (w *recorder) deleteChannel(name string) {
	w.t.Helper()
	noErr(w.t, "DeleteChannel", w.s.DeleteChannel(name))
	delete(w.channels, name)
}

func (w *recorder) storeMsg(ch string, m *pb.MsgProto) {
	w.t.Helper()
	cm := w.channels[ch]
	noErr(w.t, "Store", cm.c.Msgs.Store(m))
	if m.Sequence <= cm.last {
		return
	}
	cp := *m
	cm.msgs[m.Sequence] = &cp
	if cm.first == 0 || len(cm.msgs) == 1 {
		cm.first = m.Sequence
	}
	cm.last = m.Sequence
}

func (w *recorder) storeMsgs(ch string, from, to uint64) {
	w.t.Helper()
	for seq := from; seq <= to; seq++ {
		w.storeMsg(ch, newMsg(ch, seq, int64(seq)*1000))
	}
}

func (w *recorder) createSub(ch string, s *store.SubState) uint64 {
	w.t.Helper()
	cm := w.channels[ch]
	noErr(w.t, "CreateSub", cm.c.Subs.CreateSub(s))
	if s.ID <= cm.maxID {
		w.t.Fatalf("CreateSub on %q assigned ID %d, not above %d", ch, s.ID, cm.maxID)
	}
	cm.maxID = s.ID
	cm.subs[s.ID] = &subModel{state: *s, maxSent: s.LastSent, pending: map[uint64]struct{}{}}
	return s.ID
}

func (w *recorder) updateSub(ch string, id uint64, change func(*store.SubState)) {
	w.t.Helper()
	sm := w.channels[ch].subs[id]
	change(&sm.state)
	st := sm.state
	noErr(w.t, "UpdateSub", w.channels[ch].c.Subs.UpdateSub(&st))
}

func (w *recorder) deleteSub(ch string, id uint64) {
	w.t.Helper()
	noErr(w.t, "DeleteSub", w.channels[ch].c.Subs.DeleteSub(id))
	delete(w.channels[ch].subs, id)
}

func (w *recorder) addPending(ch string, id, seq uint64) {
	w.t.Helper()
	noErr(w.t, "AddSeqPending", w.channels[ch].c.Subs.AddSeqPending(id, seq))
	sm := w.channels[ch].subs[id]
	sm.pending[seq] = struct{}{}
	sm.maxSent = max(sm.maxSent, seq)
}

func (w *recorder) ack(ch string, id, seq uint64) {
	w.t.Helper()
	noErr(w.t, "AckSeqPending", w.channels[ch].c.Subs.AckSeqPending(id, seq))
	delete(w.channels[ch].subs[id].pending, seq)
}

// flushAll flushes every channel and records the byte counts to compare
// after recovery.
func (w *recorder) flushAll() {
	w.t.Helper()
	for name, cm := range w.channels {
		noErr(w.t, "Msgs.Flush "+name, cm.c.Msgs.Flush())
		noErr(w.t, "Subs.Flush "+name, cm.c.Subs.Flush())
	}
	w.snapshot()
}

// snapshot records the byte counts and drops from the model the messages
// that limits removed.
func (w *recorder) snapshot() {
	w.t.Helper()
	for _, cm := range w.channels {
		_, b, err := cm.c.Msgs.State()
		noErr(w.t, "State", err)
		cm.bytes = b
		// Limits may have dropped messages: keep the model in step.
		first, _, err := cm.c.Msgs.FirstAndLastSequence()
		noErr(w.t, "FirstAndLastSequence", err)
		for seq := range cm.msgs {
			if seq < first {
				delete(cm.msgs, seq)
			}
		}
		if len(cm.msgs) > 0 {
			cm.first = first
		}
	}
}

// reopenAndCheck reopens the datastore, compares what it recovers with the
// model, and continues with the recovered store.
func (w *recorder) reopenAndCheck(h *harness, l store.Limits) *store.RecoveredState {
	w.t.Helper()
	t := w.t
	ns, rs := h.reopen(t, w.s, l)
	w.s = ns
	if rs == nil {
		t.Fatal("Recover = nil after writing state")
	}
	if !reflect.DeepEqual(rs.Info, w.info) {
		t.Fatalf("recovered info = %+v, want %+v", rs.Info, w.info)
	}
	gotClients := map[string]*store.Client{}
	for _, c := range rs.Clients {
		if _, dup := gotClients[c.ID]; dup {
			t.Fatalf("client %q recovered twice", c.ID)
		}
		gotClients[c.ID] = c
	}
	if !reflect.DeepEqual(gotClients, w.clients) {
		t.Fatalf("recovered clients = %s, want %s", fmtClients(gotClients), fmtClients(w.clients))
	}
	if got, want := slices.Sorted(maps.Keys(rs.Channels)), slices.Sorted(maps.Keys(w.channels)); !slices.Equal(got, want) {
		t.Fatalf("recovered channels = %q, want %q", got, want)
	}
	for name, cm := range w.channels {
		rc := rs.Channels[name]
		if rc == nil || rc.Channel == nil || rc.Channel.Msgs == nil || rc.Channel.Subs == nil {
			t.Fatalf("channel %q recovered without stores: %+v", name, rc)
		}
		w.checkChannel(name, cm, rc)
		cm.c = rc.Channel
	}
	return rs
}

func (w *recorder) checkChannel(name string, cm *chanModel, rc *store.RecoveredChannel) {
	t := w.t
	t.Helper()
	ms := rc.Channel.Msgs
	f, l, err := ms.FirstAndLastSequence()
	noErr(t, "FirstAndLastSequence", err)
	if f != cm.first || l != cm.last {
		t.Fatalf("channel %q: recovered first, last = %d, %d; want %d, %d", name, f, l, cm.first, cm.last)
	}
	n, b, err := ms.State()
	noErr(t, "State", err)
	if n != len(cm.msgs) || b != cm.bytes {
		t.Fatalf("channel %q: recovered State = %d msgs, %d bytes; want %d, %d", name, n, b, len(cm.msgs), cm.bytes)
	}
	for seq := cm.first; seq <= cm.last && seq != 0; seq++ {
		got, err := ms.Lookup(seq)
		noErr(t, "Lookup", err)
		want := cm.msgs[seq]
		switch {
		case want == nil && got != nil:
			t.Fatalf("channel %q: recovered seq %d that was never stored", name, seq)
		case want != nil && (got == nil || !sameMsg(got, want)):
			t.Fatalf("channel %q: recovered seq %d = %+v, want %+v", name, seq, got, want)
		}
	}
	checkLookupNil(t, ms, cm.last+1)

	got := map[uint64]*store.RecoveredSub{}
	for _, rsub := range rc.Subs {
		if rsub == nil || rsub.Sub == nil {
			t.Fatalf("channel %q: nil recovered sub", name)
		}
		if _, dup := got[rsub.Sub.ID]; dup {
			t.Fatalf("channel %q: sub %d recovered twice", name, rsub.Sub.ID)
		}
		got[rsub.Sub.ID] = rsub
	}
	if g, w := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(cm.subs)); !slices.Equal(g, w) {
		t.Fatalf("channel %q: recovered sub IDs = %v, want %v", name, g, w)
	}
	for id, sm := range cm.subs {
		want := sm.state
		want.LastSent = max(sm.state.LastSent, sm.maxSent)
		if !reflect.DeepEqual(*got[id].Sub, want) {
			t.Fatalf("channel %q: recovered sub %d = %+v, want %+v", name, id, *got[id].Sub, want)
		}
		gp := slices.Sorted(maps.Keys(got[id].Pending))
		wp := slices.Sorted(maps.Keys(sm.pending))
		if !slices.Equal(gp, wp) {
			t.Fatalf("channel %q: recovered sub %d pending = %v, want %v", name, id, gp, wp)
		}
		// Keep the model in step with what the store now holds.
		sm.state.LastSent = want.LastSent
	}
	// IDs continue above every ID ever assigned, deleted ones included.
	probe := newSub("probe", 0)
	err = rc.Channel.Subs.CreateSub(probe)
	if err != nil && !errors.Is(err, store.ErrTooManySubs) {
		t.Fatalf("channel %q: CreateSub after recovery: %v", name, err)
	}
	if err == nil {
		if probe.ID <= cm.maxID {
			t.Fatalf("channel %q: CreateSub after recovery assigned ID %d, not above %d", name, probe.ID, cm.maxID)
		}
		cm.maxID = probe.ID
		noErr(t, "DeleteSub", rc.Channel.Subs.DeleteSub(probe.ID))
		noErr(t, "Subs.Flush", rc.Channel.Subs.Flush())
	}
}

func fmtClients(m map[string]*store.Client) string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(m)) {
		c := m[id]
		out = append(out, c.ID+"{"+c.HbInbox+" "+string(c.ConnID)+"}")
	}
	return "[" + strings.Join(out, " ") + "]"
}
