package storetest

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

var msgCases = []testCase{
	{"Empty", func(t *testing.T, h *harness) {
		c := mustCreate(t, h.open(t, unlimited()), "foo")
		checkFirstLast(t, c.Msgs, 0, 0)
		checkState(t, c.Msgs, 0)
		checkLookupNil(t, c.Msgs, 0, 1, 2)
		checkSeqFromTS(t, c.Msgs, 0, 0)
		checkSeqFromTS(t, c.Msgs, time.Now().UnixNano(), 0)
		noErr(t, "Flush", c.Msgs.Flush())
		if err := c.Msgs.Store(nil); err == nil {
			t.Fatal("Store(nil) succeeded")
		}
	}},
	{"StoreAndLookup", func(t *testing.T, h *harness) {
		c := mustCreate(t, h.open(t, unlimited()), "foo")
		sent := storeSeqs(t, c.Msgs, 1, 10)
		noErr(t, "Flush", c.Msgs.Flush())
		for _, m := range sent {
			checkLookup(t, c.Msgs, m)
		}
		checkLookupNil(t, c.Msgs, 0, 11, 1000)
		checkFirstLast(t, c.Msgs, 1, 10)
		n, b := checkState(t, c.Msgs, 10)
		checkBytes(t, b, sent)
		_ = n
	}},
	{"BytesGrowWithEachMessage", func(t *testing.T, h *harness) {
		c := mustCreate(t, h.open(t, unlimited()), "foo")
		var prev uint64
		for i := uint64(1); i <= 5; i++ {
			m := newMsg("foo", i, int64(i))
			m.Data = bytes.Repeat([]byte{'x'}, int(i)*10)
			noErr(t, "Store", c.Msgs.Store(m))
			_, b, err := c.Msgs.State()
			noErr(t, "State", err)
			if b <= prev {
				t.Fatalf("bytes after message %d = %d, not above %d", i, b, prev)
			}
			prev = b
		}
	}},
	{"Gaps", func(t *testing.T, h *harness) {
		c := mustCreate(t, h.open(t, unlimited()), "foo")
		var sent []*pb.MsgProto
		for _, seq := range []uint64{3, 4, 7, 20} {
			m := newMsg("foo", seq, int64(seq)*100)
			noErr(t, "Store", c.Msgs.Store(m))
			sent = append(sent, m)
		}
		for _, m := range sent {
			checkLookup(t, c.Msgs, m)
		}
		checkLookupNil(t, c.Msgs, 1, 2, 5, 6, 8, 19, 21)
		checkFirstLast(t, c.Msgs, 3, 20)
		checkState(t, c.Msgs, 4)
		checkSeqFromTS(t, c.Msgs, 500, 7)
		checkSeqFromTS(t, c.Msgs, 701, 20)
	}},
	{"LowerOrEqualSequenceIgnored", func(t *testing.T, h *harness) {
		c := mustCreate(t, h.open(t, unlimited()), "foo")
		orig := newMsg("foo", 5, 50)
		noErr(t, "Store", c.Msgs.Store(orig))
		dup := newMsg("foo", 5, 60)
		dup.Data = []byte("duplicate")
		noErr(t, "Store same seq", c.Msgs.Store(dup))
		noErr(t, "Store lower seq", c.Msgs.Store(newMsg("foo", 3, 70)))
		checkLookup(t, c.Msgs, orig)
		checkLookupNil(t, c.Msgs, 3)
		checkFirstLast(t, c.Msgs, 5, 5)
		checkState(t, c.Msgs, 1)
	}},
	{"SequenceFromTimestamp", func(t *testing.T, h *harness) {
		c := mustCreate(t, h.open(t, unlimited()), "foo")
		for i, ts := range []int64{100, 200, 200, 200, 300, 400} {
			noErr(t, "Store", c.Msgs.Store(newMsg("foo", uint64(i+1), ts)))
		}
		for _, tc := range []struct {
			ts   int64
			want uint64
		}{
			{0, 1}, {99, 1}, {100, 1}, {101, 2}, {200, 2}, {201, 5},
			{300, 5}, {350, 6}, {400, 6}, {401, 7}, {1 << 62, 7},
		} {
			checkSeqFromTS(t, c.Msgs, tc.ts, tc.want)
		}
	}},
	{"MaxMsgs", func(t *testing.T, h *harness) {
		l := unlimited()
		l.MaxMsgs = 5
		l.PerChannel = map[string]*store.ChannelLimits{
			"small.>":  {MaxMsgs: 2},
			"small.no": {MaxMsgs: -1},
		}
		s := h.open(t, l)
		c := mustCreate(t, s, "foo")
		sent := storeSeqs(t, c.Msgs, 1, 12)
		checkFirstLast(t, c.Msgs, 8, 12)
		checkState(t, c.Msgs, 5)
		checkLookupNil(t, c.Msgs, 1, 7)
		for _, m := range sent[7:] {
			checkLookup(t, c.Msgs, m)
		}
		checkSeqFromTS(t, c.Msgs, 0, 8)

		sm := mustCreate(t, s, "small.one")
		storeSeqs(t, sm.Msgs, 1, 12)
		checkFirstLast(t, sm.Msgs, 11, 12)
		checkState(t, sm.Msgs, 2)

		nl := mustCreate(t, s, "small.no")
		storeSeqs(t, nl.Msgs, 1, 12)
		checkFirstLast(t, nl.Msgs, 1, 12)
		checkState(t, nl.Msgs, 12)
	}},
	{"MaxBytesKeepsAtLeastOne", func(t *testing.T, h *harness) {
		l := unlimited()
		l.MaxBytes = 1
		c := mustCreate(t, h.open(t, l), "foo")
		for i := uint64(1); i <= 5; i++ {
			m := newMsg("foo", i, int64(i))
			noErr(t, "Store", c.Msgs.Store(m))
			checkFirstLast(t, c.Msgs, i, i)
			checkState(t, c.Msgs, 1)
			checkLookup(t, c.Msgs, m)
		}
	}},
	{"MaxBytes", func(t *testing.T, h *harness) {
		l := unlimited()
		l.MaxBytes = 1000
		c := mustCreate(t, h.open(t, l), "foo")
		var sent []*pb.MsgProto
		for i := uint64(1); i <= 20; i++ {
			m := newMsg("foo", i, int64(i))
			m.Data = bytes.Repeat([]byte{'y'}, 100)
			noErr(t, "Store", c.Msgs.Store(m))
			sent = append(sent, m)
		}
		n, b, err := c.Msgs.State()
		noErr(t, "State", err)
		// A message is ~115 bytes marshalled; stores may add a fixed
		// per-record overhead (the file store counts 40 bytes), so between 3
		// and 8 messages fit.
		if n < 3 || n > 8 || b > 1000 {
			t.Fatalf("State() = %d msgs, %d bytes; want 3..8 msgs within 1000 bytes", n, b)
		}
		checkFirstLast(t, c.Msgs, uint64(20-n+1), 20)
		checkBytes(t, b, sent[20-n:])
	}},
	{"MaxAge", testMaxAge},
	{"MaxAgeOnlyOldest", testMaxAgeOnlyOldest},
}

// testMaxAge runs in a synctest bubble: expiry happens in the background,
// within 2 s of a message reaching MaxAge (file stores check about once a
// second).
func testMaxAge(t *testing.T, h *harness) {
	synctest.Test(t, func(t *testing.T) {
		l := unlimited()
		l.MaxAge = 10 * time.Second
		s := h.open(t, l)
		defer s.Close()
		c := mustCreate(t, s, "foo")
		start := time.Now()
		m1 := newMsg("foo", 1, time.Now().UnixNano())
		noErr(t, "Store", c.Msgs.Store(m1))
		time.Sleep(5 * time.Second)
		m2 := newMsg("foo", 2, time.Now().UnixNano())
		noErr(t, "Store", c.Msgs.Store(m2))
		noErr(t, "Flush", c.Msgs.Flush())

		time.Sleep(start.Add(9 * time.Second).Sub(time.Now()))
		synctest.Wait()
		checkFirstLast(t, c.Msgs, 1, 2) // nothing is 10 s old yet

		time.Sleep(start.Add(13 * time.Second).Sub(time.Now()))
		synctest.Wait()
		checkFirstLast(t, c.Msgs, 2, 2)
		checkLookupNil(t, c.Msgs, 1)
		checkLookup(t, c.Msgs, m2)
		checkState(t, c.Msgs, 1)

		time.Sleep(start.Add(18 * time.Second).Sub(time.Now()))
		synctest.Wait()
		checkFirstLast(t, c.Msgs, 3, 2) // all expired: first = last+1
		checkState(t, c.Msgs, 0)
		checkLookupNil(t, c.Msgs, 1, 2)
		checkSeqFromTS(t, c.Msgs, 0, 3)

		// A new message re-arms expiry.
		m3 := newMsg("foo", 3, time.Now().UnixNano())
		noErr(t, "Store", c.Msgs.Store(m3))
		checkFirstLast(t, c.Msgs, 3, 3)
		checkLookup(t, c.Msgs, m3)
		time.Sleep(13 * time.Second)
		synctest.Wait()
		checkFirstLast(t, c.Msgs, 4, 3)
		checkState(t, c.Msgs, 0)
	})
}

// testMaxAgeOnlyOldest: a steady stream keeps the newest messages while the
// oldest expire, and per-channel MaxAge overrides the global one.
func testMaxAgeOnlyOldest(t *testing.T, h *harness) {
	synctest.Test(t, func(t *testing.T) {
		l := unlimited()
		l.MaxAge = time.Hour
		l.PerChannel = map[string]*store.ChannelLimits{"fast": {MaxAge: 5 * time.Second}}
		s := h.open(t, l)
		defer s.Close()
		fast := mustCreate(t, s, "fast")
		slow := mustCreate(t, s, "slow")
		for i := uint64(1); i <= 20; i++ {
			now := time.Now().UnixNano()
			noErr(t, "Store", fast.Msgs.Store(newMsg("fast", i, now)))
			noErr(t, "Store", slow.Msgs.Store(newMsg("slow", i, now)))
			time.Sleep(time.Second)
		}
		synctest.Wait()
		// Message i was stored at i-1 s; now is 20 s. With up to 2 s of
		// expiry lag, messages 1..14 are gone and 17..20 are kept.
		first, last, err := fast.Msgs.FirstAndLastSequence()
		noErr(t, "FirstAndLastSequence", err)
		if last != 20 || first < 15 || first > 17 {
			t.Fatalf("fast: first, last = %d, %d; want first in 15..17, last 20", first, last)
		}
		checkFirstLast(t, slow.Msgs, 1, 20)
	})
}

func storeSeqs(t *testing.T, ms store.MsgStore, from, to uint64) []*pb.MsgProto {
	t.Helper()
	var sent []*pb.MsgProto
	for i := from; i <= to; i++ {
		m := newMsg("foo", i, int64(i)*1000)
		noErr(t, "Store", ms.Store(m))
		sent = append(sent, m)
	}
	return sent
}

func checkLookup(t *testing.T, ms store.MsgStore, want *pb.MsgProto) {
	t.Helper()
	got, err := ms.Lookup(want.Sequence)
	if err != nil {
		t.Fatalf("Lookup(%d): %v", want.Sequence, err)
	}
	if got == nil {
		t.Fatalf("Lookup(%d) = nil, want a message", want.Sequence)
	}
	if !sameMsg(got, want) {
		t.Fatalf("Lookup(%d) = %+v, want %+v", want.Sequence, got, want)
	}
}

func sameMsg(a, b *pb.MsgProto) bool {
	return a.Sequence == b.Sequence && a.Subject == b.Subject && a.Reply == b.Reply &&
		bytes.Equal(a.Data, b.Data) && a.Timestamp == b.Timestamp
}

func checkLookupNil(t *testing.T, ms store.MsgStore, seqs ...uint64) {
	t.Helper()
	for _, seq := range seqs {
		m, err := ms.Lookup(seq)
		if err != nil || m != nil {
			t.Fatalf("Lookup(%d) = %v, %v; want nil, nil", seq, m, err)
		}
	}
}

func checkFirstLast(t *testing.T, ms store.MsgStore, wantFirst, wantLast uint64) {
	t.Helper()
	f, l, err := ms.FirstAndLastSequence()
	if err != nil {
		t.Fatalf("FirstAndLastSequence: %v", err)
	}
	if f != wantFirst || l != wantLast {
		t.Fatalf("FirstAndLastSequence = %d, %d; want %d, %d", f, l, wantFirst, wantLast)
	}
}

func checkState(t *testing.T, ms store.MsgStore, wantMsgs int) (int, uint64) {
	t.Helper()
	n, b, err := ms.State()
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	if n != wantMsgs {
		t.Fatalf("State msgs = %d, want %d", n, wantMsgs)
	}
	if (n == 0) != (b == 0) {
		t.Fatalf("State = %d msgs, %d bytes", n, b)
	}
	return n, b
}

// checkBytes: a store counts at least the marshalled size of each message
// and at most a small fixed overhead (64 bytes) more per message.
func checkBytes(t *testing.T, got uint64, msgs []*pb.MsgProto) {
	t.Helper()
	var min uint64
	for _, m := range msgs {
		min += uint64(m.Size())
	}
	if max := min + 64*uint64(len(msgs)); got < min || got > max {
		t.Fatalf("State bytes = %d, want %d..%d for %d messages", got, min, max, len(msgs))
	}
}

func checkSeqFromTS(t *testing.T, ms store.MsgStore, ts int64, want uint64) {
	t.Helper()
	got, err := ms.GetSequenceFromTimestamp(ts)
	if err != nil {
		t.Fatalf("GetSequenceFromTimestamp(%d): %v", ts, err)
	}
	if got != want {
		t.Fatalf("GetSequenceFromTimestamp(%d) = %d, want %d", ts, got, want)
	}
}
