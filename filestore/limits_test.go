package filestore

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stanft/stanft/store"
)

func sliceNums(t *testing.T, dir string) []int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var nums []int
	for _, e := range ents {
		if n, ext, ok := parseSliceName(e.Name()); ok && ext == "dat" {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums
}

func recoveredStore(t *testing.T, dir string, mod func(*Config)) (*Store, *store.Channel) {
	t.Helper()
	cfg := testConfig(t)
	if mod != nil {
		mod(&cfg)
	}
	s := openTest(t, dir, cfg)
	t.Cleanup(func() { _ = s.Close() })
	rs, err := s.Recover(context.Background())
	must(t, err)
	if rs == nil {
		must(t, s.Init(testInfo("cid")))
		ch, err := s.CreateChannel("foo")
		must(t, err)
		return s, ch
	}
	return s, rs.Channels["foo"].Channel
}

func TestSlicesRollAndRecover(t *testing.T) {
	dir := t.TempDir()
	mod := func(c *Config) { c.SliceMaxMsgs = 10 }
	s, ch := recoveredStore(t, dir, mod)
	storeRange(t, ch.Msgs, 1, 25)
	must(t, ch.Msgs.Flush())
	checkMsgs(t, ch.Msgs, 1, 25)
	if got := sliceNums(t, chanDir(dir, "foo")); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("slices %v; want [1 2 3]", got)
	}
	must(t, s.Close())
	s, ch = recoveredStore(t, dir, mod)
	checkMsgs(t, ch.Msgs, 1, 25)
	storeRange(t, ch.Msgs, 26, 31)
	must(t, ch.Msgs.Flush())
	checkMsgs(t, ch.Msgs, 1, 31)
	if got := sliceNums(t, chanDir(dir, "foo")); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Fatalf("slices %v; want [1 2 3 4]", got)
	}
	must(t, s.Close())
}

func TestSliceRollBytesAndDerived(t *testing.T) {
	dir := t.TempDir()
	s, ch := recoveredStore(t, dir, func(c *Config) {
		c.SliceMaxMsgs, c.SliceMaxBytes, c.SliceMaxAge = 0, 0, 0
		c.Limits = store.Limits{ChannelLimits: store.ChannelLimits{MaxMsgs: 40}}
	})
	storeRange(t, ch.Msgs, 1, 100)
	must(t, ch.Msgs.Flush())
	checkMsgs(t, ch.Msgs, 61, 100)
	// Slices of MaxMsgs/4 = 10 messages; those wholly dropped are removed.
	if got := sliceNums(t, chanDir(dir, "foo")); !slices.Equal(got, []int{7, 8, 9, 10}) {
		t.Fatalf("slices %v; want [7 8 9 10]", got)
	}
	must(t, s.Close())

	dir = t.TempDir()
	_, ch = recoveredStore(t, dir, func(c *Config) { c.SliceMaxBytes = 2000 })
	storeRange(t, ch.Msgs, 1, 30)
	must(t, ch.Msgs.Flush())
	if n := len(sliceNums(t, chanDir(dir, "foo"))); n < 2 {
		t.Fatalf("%d slices after 30 messages with SliceMaxBytes 2000", n)
	}
	checkMsgs(t, ch.Msgs, 1, 30)
}

func TestMaxBytesCountsOverhead(t *testing.T) {
	dir := t.TempDir()
	s, ch := recoveredStore(t, dir, nil)
	var want uint64
	for seq := uint64(1); seq <= 10; seq++ {
		m := testMsg("foo", seq)
		want += uint64(m.Size()) + 40 // the reference's per-record overhead (SPEC §7.2)
		must(t, ch.Msgs.Store(m))
	}
	_, got, err := ch.Msgs.State()
	must(t, err)
	if got != want {
		t.Fatalf("State bytes %d; want %d", got, want)
	}
	// Recovery counts the same.
	must(t, ch.Msgs.Flush())
	must(t, s.Close())
	_, ch = recoveredStore(t, dir, nil)
	if _, got, err = ch.Msgs.State(); err != nil || got != want {
		t.Fatalf("State bytes after recovery %d (%v); want %d", got, err, want)
	}
	dir = t.TempDir()
	one := uint64(testMsg("foo", 1).Size()) + msgRecordOverhead
	_, ch = recoveredStore(t, dir, func(c *Config) {
		c.Limits = store.Limits{ChannelLimits: store.ChannelLimits{MaxBytes: int64(3*one + 10)}}
	})
	storeRange(t, ch.Msgs, 1, 10)
	n, b, err := ch.Msgs.State()
	must(t, err)
	if n > 3 || b > 3*one+10 || n < 2 {
		t.Fatalf("State %d msgs %d bytes under MaxBytes %d", n, b, 3*one+10)
	}
}

func TestArchiveScript(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "args")
	script := filepath.Join(t.TempDir(), "archive.sh")
	must(t, os.WriteFile(script, []byte("#!/bin/sh\necho \"$1 $2 $3\" >> "+out+"\n"), 0o750))
	s, ch := recoveredStore(t, dir, func(c *Config) {
		c.SliceMaxMsgs = 5
		c.SliceArchiveScript = script
		c.Limits = store.Limits{ChannelLimits: store.ChannelLimits{MaxMsgs: 5}}
	})
	storeRange(t, ch.Msgs, 1, 12)
	must(t, ch.Msgs.Flush())
	must(t, s.Close()) // waits for the scripts
	b, err := os.ReadFile(out)
	must(t, err)
	cd := chanDir(dir, "foo")
	want := "foo " + filepath.Join(cd, "msgs.1.dat.bak") + " " + filepath.Join(cd, "msgs.1.idx.bak") + "\n"
	if !strings.HasPrefix(string(b), want) {
		t.Fatalf("script got %q; want first line %q", b, want)
	}
	if _, err := os.Stat(filepath.Join(cd, "msgs.1.dat.bak")); err != nil {
		t.Fatalf("archived slice: %v", err)
	}
	if got := sliceNums(t, cd); !slices.Equal(got, []int{2, 3}) {
		t.Fatalf("slices %v; want [2 3]", got)
	}
}

func TestMaxAgeBackground(t *testing.T) {
	dir := t.TempDir()
	s, ch := recoveredStore(t, dir, func(c *Config) {
		c.SliceMaxMsgs = 3
		c.Limits = store.Limits{ChannelLimits: store.ChannelLimits{MaxAge: time.Hour}}
	})
	old := time.Now().Add(-2 * time.Hour).UnixNano()
	for seq := uint64(1); seq <= 7; seq++ {
		m := testMsg("foo", seq)
		m.Timestamp = old
		must(t, ch.Msgs.Store(m))
	}
	storeRange(t, ch.Msgs, 8, 8)
	must(t, ch.Msgs.Flush())
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, _, err := ch.Msgs.FirstAndLastSequence()
		must(t, err)
		if f == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first = %d 10 s later; want 8", f)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkMsgs(t, ch.Msgs, 8, 8)
	if got := sliceNums(t, chanDir(dir, "foo")); !slices.Equal(got, []int{3}) {
		t.Fatalf("slices %v; want [3]", got)
	}
	must(t, s.Close())
}

func TestSequenceGaps(t *testing.T) {
	dir := t.TempDir()
	s, ch := recoveredStore(t, dir, nil)
	seqs := []uint64{3, 4, 10, 11, 12, 100}
	for i, q := range seqs {
		m := testMsg("foo", q)
		m.Timestamp = int64(1000 * (i + 1))
		must(t, ch.Msgs.Store(m))
	}
	must(t, ch.Msgs.Store(testMsg("foo", 50))) // lower: ignored
	must(t, ch.Msgs.Flush())
	check := func(ms store.MsgStore) {
		for q := uint64(0); q <= 101; q++ {
			m, err := ms.Lookup(q)
			must(t, err)
			if slices.Contains(seqs, q) != (m != nil) || (m != nil && m.Sequence != q) {
				t.Fatalf("Lookup(%d) = %v", q, m)
			}
		}
		for ts, want := range map[int64]uint64{0: 3, 1000: 3, 2500: 10, 6000: 100, 6001: 101} {
			got, err := ms.GetSequenceFromTimestamp(ts)
			must(t, err)
			if got != want {
				t.Fatalf("GetSequenceFromTimestamp(%d) = %d; want %d", ts, got, want)
			}
		}
	}
	check(ch.Msgs)
	must(t, s.Close())
	_, ch = recoveredStore(t, dir, nil)
	check(ch.Msgs)
}

func TestDeleteChannelRemovesFiles(t *testing.T) {
	dir := t.TempDir()
	s, ch := recoveredStore(t, dir, nil)
	storeRange(t, ch.Msgs, 1, 3)
	must(t, ch.Msgs.Flush())
	must(t, s.DeleteChannel("foo"))
	if _, err := os.Stat(chanDir(dir, "foo")); !os.IsNotExist(err) {
		t.Fatalf("channel dir after DeleteChannel: %v", err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, channelsDir))
	must(t, err)
	if len(ents) != 0 {
		t.Fatalf("channels dir holds %v", ents)
	}
	// A deletion interrupted after the rename is finished by recovery.
	ch2, err := s.CreateChannel("bar")
	must(t, err)
	storeRange(t, ch2.Msgs, 1, 1)
	must(t, s.Close())
	must(t, os.Rename(chanDir(dir, "bar"), filepath.Join(dir, channelsDir, deletedPfx+"bar")))
	_, rs, err := recoverDir(t, dir, testConfig(t))
	must(t, err)
	if len(rs.Channels) != 0 {
		t.Fatalf("recovered %v", rs.Channels)
	}
	ents, err = os.ReadDir(filepath.Join(dir, channelsDir))
	must(t, err)
	if len(ents) != 0 {
		t.Fatalf("channels dir holds %v after recovery", ents)
	}
}

func TestChannelNames(t *testing.T) {
	dir := t.TempDir()
	s, _ := recoveredStore(t, dir, func(c *Config) { c.Limits = store.Limits{} })
	names := []string{"a-b_c.D", "x y", "100%", "é.ü", strings.Repeat("long.", 60) + "x", "a:b"}
	for _, n := range names {
		ch, err := s.CreateChannel(n)
		must(t, err)
		m := testMsg("foo", 1)
		must(t, ch.Msgs.Store(m))
		must(t, ch.Msgs.Flush())
	}
	must(t, s.Close())
	_, rs, err := recoverDir(t, dir, testConfig(t))
	must(t, err)
	for _, n := range append(names, "foo") {
		if rs.Channels[n] == nil {
			t.Errorf("channel %q not recovered", n)
		}
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	mod := func(c *Config) {
		c.CompactMinSize = 0
		c.CompactInterval = 0
	}
	s, ch := recoveredStore(t, dir, mod)
	subs := filepath.Join(chanDir(dir, "foo"), subsFile)
	a := &store.SubState{ClientID: "a", Inbox: "ia"}
	b := &store.SubState{ClientID: "b", Inbox: "ib", IsDurable: true, DurableName: "d"}
	must(t, ch.Subs.CreateSub(a))
	must(t, ch.Subs.CreateSub(b))
	for seq := uint64(1); seq <= 500; seq++ {
		must(t, ch.Subs.AddSeqPending(a.ID, seq))
		must(t, ch.Subs.AddSeqPending(b.ID, seq))
		must(t, ch.Subs.AckSeqPending(a.ID, seq))
		if seq < 490 {
			must(t, ch.Subs.AckSeqPending(b.ID, seq))
		}
		if seq%50 == 0 {
			must(t, ch.Subs.Flush())
		}
	}
	must(t, ch.Subs.DeleteSub(a.ID))
	must(t, ch.Subs.Flush())
	fi, err := os.Stat(subs)
	must(t, err)
	if fi.Size() > 2000 {
		t.Fatalf("subs.log is %d bytes after compaction", fi.Size())
	}
	for i := range 100 {
		must(t, s.AddClient(&store.Client{ID: "c", HbInbox: strings.Repeat("x", i)}))
	}
	fi, err = os.Stat(filepath.Join(dir, clientsFile))
	must(t, err)
	if fi.Size() > 1000 {
		t.Fatalf("clients.log is %d bytes after compaction", fi.Size())
	}
	must(t, s.Close())
	_, rs, err := recoverDir(t, dir, testConfig(t))
	must(t, err)
	rsubs := rs.Channels["foo"].Subs
	if len(rsubs) != 1 || rsubs[0].Sub.ID != b.ID || rsubs[0].Sub.LastSent != 500 || len(rsubs[0].Pending) != 11 {
		t.Fatalf("recovered subs %+v", rsubs)
	}
	if len(rs.Clients) != 1 || len(rs.Clients[0].HbInbox) != 99 {
		t.Fatalf("recovered clients %+v", rs.Clients)
	}
	// IDs are never reused, even after compaction dropped the deleted sub.
	c := &store.SubState{}
	s2 := rs.Channels["foo"].Channel.Subs
	must(t, s2.CreateSub(c))
	if c.ID <= b.ID {
		t.Fatalf("new sub ID %d reuses an old one (last %d)", c.ID, b.ID)
	}
}
