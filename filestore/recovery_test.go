package filestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stanft/stanft/store"
)

func TestRecoverAfterClose(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	populate(t, dir, cfg, 50)
	_, rs, err := recoverDir(t, dir, cfg)
	must(t, err)
	if rs == nil || rs.Info.ClusterID != "cid" {
		t.Fatalf("recovered info = %+v", rs)
	}
	if len(rs.Clients) != 1 || rs.Clients[0].ID != "me" || string(rs.Clients[0].ConnID) != "conn" {
		t.Fatalf("recovered clients = %+v", rs.Clients)
	}
	rc := rs.Channels["foo"]
	if rc == nil {
		t.Fatalf("channel foo not recovered: %+v", rs.Channels)
	}
	checkMsgs(t, rc.Channel.Msgs, 1, 50)
	if len(rc.Subs) != 1 || rc.Subs[0].Sub.LastSent != 3 || len(rc.Subs[0].Pending) != 3 {
		t.Fatalf("recovered subs = %+v", rc.Subs)
	}
}

func TestRecoverFreshAndServerInfo(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadServerInfo(dir); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReadServerInfo(fresh) = %v; want ErrNotFound", err)
	}
	if _, err := ReadServerInfo(filepath.Join(dir, "missing")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReadServerInfo(missing) = %v; want ErrNotFound", err)
	}
	populate(t, dir, testConfig(t), 1)
	info, err := ReadServerInfo(dir)
	must(t, err)
	if info.ClusterID != "cid" {
		t.Fatalf("ReadServerInfo = %+v", info)
	}
}

func TestForeignDatastoreRefused(t *testing.T) {
	for _, layout := range []string{"server.dat", "clients.dat", "foo/subs.dat"} {
		dir := t.TempDir()
		p := filepath.Join(dir, layout)
		must(t, os.MkdirAll(filepath.Dir(p), 0o750))
		must(t, os.WriteFile(p, []byte("x"), 0o640))
		if _, err := Open(dir, testConfig(t)); !errors.Is(err, ErrForeignDatastore) || !strings.Contains(err.Error(), layout) {
			t.Errorf("Open with %s = %v; want ErrForeignDatastore naming the file", layout, err)
		}
		if _, err := Verify(dir, testConfig(t)); !errors.Is(err, ErrForeignDatastore) {
			t.Errorf("Verify with %s = %v; want ErrForeignDatastore", layout, err)
		}
		if _, err := ReadServerInfo(dir); !errors.Is(err, ErrForeignDatastore) {
			t.Errorf("ReadServerInfo with %s = %v; want ErrForeignDatastore", layout, err)
		}
	}
}

func TestFTFilesIgnored(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "stanft.lock"), nil, 0o640))
	must(t, os.WriteFile(filepath.Join(dir, "stanft.epoch"), []byte("7"), 0o640))
	must(t, os.MkdirAll(filepath.Join(dir, "stanft.something"), 0o750))
	populate(t, dir, testConfig(t), 3)
	_, rs, err := recoverDir(t, dir, testConfig(t))
	must(t, err)
	checkMsgs(t, rs.Channels["foo"].Channel.Msgs, 1, 3)
	rep, err := Verify(dir, testConfig(t))
	must(t, err)
	if !rep.Healthy() || len(rep.Problems) != 0 {
		t.Fatalf("Verify = %s", rep)
	}
}

// TestTornTailEveryOffset cuts each log file inside its last record, at
// every offset, and checks that recovery truncates exactly that record
// (saving it to .broken) and keeps everything before it.
func TestTornTailEveryOffset(t *testing.T) {
	src := t.TempDir()
	cfg := testConfig(t)
	cfg.Logger = nil // hundreds of recoveries: keep failing output readable
	populate(t, src, cfg, 5)
	files := []struct {
		rel   string
		check func(t *testing.T, rs *store.RecoveredState)
	}{
		{filepath.Join(channelsDir, channelDirName("foo"), sliceDatName(1)), func(t *testing.T, rs *store.RecoveredState) {
			ms := rs.Channels["foo"].Channel.Msgs
			checkMsgs(t, ms, 1, 4)
			must(t, ms.Store(testMsg("foo", 5)))
			must(t, ms.Flush())
			checkMsgs(t, ms, 1, 5)
		}},
		{filepath.Join(channelsDir, channelDirName("foo"), subsFile), func(t *testing.T, rs *store.RecoveredState) {
			subs := rs.Channels["foo"].Subs
			if len(subs) != 1 || len(subs[0].Pending) != 2 || subs[0].Sub.LastSent != 2 {
				t.Fatalf("subs = %+v %+v", subs, subs[0].Pending)
			}
		}},
		{clientsFile, nil},
	}
	for _, f := range files {
		t.Run(filepath.Base(f.rel), func(t *testing.T) {
			t.Parallel()
			offs := recordOffsets(t, filepath.Join(src, f.rel))
			fi, err := os.Stat(filepath.Join(src, f.rel))
			must(t, err)
			last := offs[len(offs)-1]
			for cut := last; cut < fi.Size(); cut++ {
				dir := t.TempDir()
				copyDir(t, src, dir)
				p := filepath.Join(dir, f.rel)
				must(t, os.Truncate(p, cut))
				s, rs, err := recoverDir(t, dir, cfg)
				if err != nil {
					t.Fatalf("cut at %d: Recover: %v", cut, err)
				}
				if got, _ := os.Stat(p); got.Size() != last {
					t.Fatalf("cut at %d: size after recovery %d; want %d", cut, got.Size(), last)
				}
				broken, err := os.ReadFile(p + brokenSuffix)
				if cut > last && (err != nil || int64(len(broken)) != cut-last) {
					t.Fatalf("cut at %d: .broken holds %d bytes (%v); want %d", cut, len(broken), err, cut-last)
				}
				if f.check != nil {
					f.check(t, rs)
				} else if len(rs.Clients) != 0 {
					t.Fatalf("cut at %d: clients = %+v", cut, rs.Clients)
				}
				must(t, s.Close())
			}
		})
	}
}

// TestCorruption damages files in ways recovery must not repair on its own.
func TestCorruption(t *testing.T) {
	src := t.TempDir()
	cfg := testConfig(t)
	populate(t, src, cfg, 5)
	dat := filepath.Join(channelsDir, channelDirName("foo"), sliceDatName(1))
	subs := filepath.Join(channelsDir, channelDirName("foo"), subsFile)
	flipAt := func(rel string, rec int) func(t *testing.T, dir string) (string, int64) {
		return func(t *testing.T, dir string) (string, int64) {
			p := filepath.Join(dir, rel)
			off := recordOffsets(t, p)[rec]
			b, err := os.ReadFile(p)
			must(t, err)
			b[off+frameHeaderSize+1] ^= 0x40
			must(t, os.WriteFile(p, b, 0o640))
			return p, off
		}
	}
	cases := []struct {
		name    string
		corrupt func(t *testing.T, dir string) (file string, off int64)
	}{
		{"FlipByteMidDat", flipAt(dat, 2)},
		{"FlipByteFirstDatRecord", flipAt(dat, 0)},
		{"FlipByteMidSubs", flipAt(subs, 1)},
		{"FlipLengthMidDat", func(t *testing.T, dir string) (string, int64) {
			p := filepath.Join(dir, dat)
			off := recordOffsets(t, p)[1]
			b, err := os.ReadFile(p)
			must(t, err)
			b[off+3] = 0x7f // length now far beyond the end of the file
			must(t, os.WriteFile(p, b, 0o640))
			return p, off
		}},
		{"MissingInfo", func(t *testing.T, dir string) (string, int64) {
			p := filepath.Join(dir, infoFile)
			must(t, os.Remove(p))
			return p, 0
		}},
		{"CorruptInfo", func(t *testing.T, dir string) (string, int64) {
			p := filepath.Join(dir, infoFile)
			b, err := os.ReadFile(p)
			must(t, err)
			b[len(b)-1] ^= 1
			must(t, os.WriteFile(p, b, 0o640))
			return p, 0
		}},
		{"MissingMeta", func(t *testing.T, dir string) (string, int64) {
			p := filepath.Join(dir, channelsDir, channelDirName("foo"), metaFile)
			must(t, os.Remove(p))
			return p, 0
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, src, dir)
			file, off := c.corrupt(t, dir)
			before := treeHash(t, dir)
			rep, err := Verify(dir, cfg)
			must(t, err)
			if rep.Healthy() {
				t.Fatalf("Verify says healthy:\n%s", rep)
			}
			if !strings.Contains(rep.String(), file) {
				t.Fatalf("Verify report does not name %s:\n%s", file, rep)
			}
			if treeHash(t, dir) != before {
				t.Fatal("Verify modified the datastore")
			}
			s := openTest(t, dir, cfg)
			defer s.Close()
			_, err = s.Recover(context.Background())
			ce := asCorruption(t, err)
			if ce.File != file || ce.Offset != off {
				t.Fatalf("CorruptionError at %s:%d; want %s:%d (%v)", ce.File, ce.Offset, file, off, err)
			}
			for _, want := range []string{file, "stanft store verify", "backup"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not mention %q", err, want)
				}
			}
			if treeHash(t, dir) != before {
				t.Fatal("a failed recovery modified the datastore")
			}
		})
	}
}

// TestIndexRebuilt: a missing, truncated or damaged index is rebuilt from
// the data file.
func TestIndexRebuilt(t *testing.T) {
	src := t.TempDir()
	cfg := testConfig(t)
	populate(t, src, cfg, 300)
	idx := filepath.Join(channelsDir, channelDirName("foo"), sliceIdxName(1))
	cases := map[string]func(p string){
		"Missing":   func(p string) { must(t, os.Remove(p)) },
		"Truncated": func(p string) { must(t, os.Truncate(p, 100*idxEntrySize+7)) },
		"Flipped": func(p string) {
			b, err := os.ReadFile(p)
			must(t, err)
			b[150*idxEntrySize+3] ^= 0xff
			must(t, os.WriteFile(p, b, 0o640))
		},
		"Longer": func(p string) {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			must(t, err)
			_, err = f.Write(make([]byte, 3*idxEntrySize))
			must(t, err)
			must(t, f.Close())
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, src, dir)
			p := filepath.Join(dir, idx)
			damage(p)
			rep, err := Verify(dir, cfg)
			must(t, err)
			if !rep.Healthy() {
				t.Fatalf("Verify: %s", rep)
			}
			s, rs, err := recoverDir(t, dir, cfg)
			must(t, err)
			checkMsgs(t, rs.Channels["foo"].Channel.Msgs, 1, 300)
			must(t, s.Close())
			fi, err := os.Stat(p)
			must(t, err)
			if fi.Size() != 300*idxEntrySize {
				t.Fatalf("index size %d after recovery; want %d", fi.Size(), 300*idxEntrySize)
			}
			rep, err = Verify(dir, cfg)
			must(t, err)
			if len(rep.Problems) != 0 || rep.Messages != 300 {
				t.Fatalf("Verify after rebuild: %s", rep)
			}
		})
	}
}

func TestVerifyTornTailIsRepairable(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	populate(t, dir, cfg, 5)
	p := filepath.Join(chanDir(dir, "foo"), sliceDatName(1))
	fi, err := os.Stat(p)
	must(t, err)
	must(t, os.Truncate(p, fi.Size()-3))
	before := treeHash(t, dir)
	rep, err := Verify(dir, cfg)
	must(t, err)
	if !rep.Healthy() || len(rep.Problems) != 1 || rep.Problems[0].File != p {
		t.Fatalf("Verify: %s", rep)
	}
	if treeHash(t, dir) != before {
		t.Fatal("Verify modified the datastore")
	}
}

func TestOpenRefusesUnknownFormatAndBadConfig(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, markerFile), []byte("stanft-store\nformat 9\ncrc-poly 1\n"), 0o640))
	if _, err := Open(dir, testConfig(t)); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("Open of format 9 = %v; want ErrUnknownFormat", err)
	}
	for name, mod := range map[string]func(*Config){
		"frag":     func(c *Config) { c.CompactFragmentation = 101 },
		"buffer":   func(c *Config) { c.BufferSize = -1 },
		"poly":     func(c *Config) { c.CRCPoly = 0 },
		"parallel": func(c *Config) { c.ParallelRecovery = 0 },
		"slices":   func(c *Config) { c.SliceMaxAge = -1 },
		"limits":   func(c *Config) { c.Limits.MaxMsgs = -1 },
	} {
		cfg := testConfig(t)
		mod(&cfg)
		if _, err := Open(t.TempDir(), cfg); err == nil || !strings.Contains(err.Error(), "invalid config") {
			t.Errorf("%s: Open = %v; want an invalid config error", name, err)
		}
	}
	if err := (&Config{}).Validate(); err == nil {
		t.Error("the zero Config validated")
	}
}

// TestCRCPolyRecorded: a datastore keeps the polynomial it was created
// with, whatever a later Config says.
func TestCRCPolyRecorded(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	cfg.CRCPoly = 0x82F63B78 // Castagnoli
	populate(t, dir, cfg, 10)
	_, rs, err := recoverDir(t, dir, testConfig(t))
	must(t, err)
	checkMsgs(t, rs.Channels["foo"].Channel.Msgs, 1, 10)
}

// TestTruncateBadEOF: the operator's escape hatch cuts the newest file at
// its first bad record even though valid records follow.
func TestTruncateBadEOF(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	populate(t, dir, cfg, 5)
	p := filepath.Join(chanDir(dir, "foo"), sliceDatName(1))
	off := recordOffsets(t, p)[2]
	b, err := os.ReadFile(p)
	must(t, err)
	b[off+frameHeaderSize+1] ^= 0x40
	must(t, os.WriteFile(p, b, 0o640))
	s, _, err := recoverDir(t, dir, cfg)
	asCorruption(t, err)
	must(t, s.Close())
	cfg.TruncateBadEOF = true
	_, rs, err := recoverDir(t, dir, cfg)
	must(t, err)
	checkMsgs(t, rs.Channels["foo"].Channel.Msgs, 1, 2)
	broken, err := os.ReadFile(p + brokenSuffix)
	must(t, err)
	if int64(len(broken)) != int64(len(b))-off {
		t.Fatalf(".broken holds %d bytes; want %d", len(broken), int64(len(b))-off)
	}

	// A one-off: a second start with it is refused, one without it
	// clears the way again (as in the reference).
	_, _, err = recoverDir(t, dir, cfg)
	if err == nil || !strings.Contains(err.Error(), "--file_truncate_bad_eof") {
		t.Fatalf("second start with TruncateBadEOF: %v; want it refused", err)
	}
	cfg.TruncateBadEOF = false
	_, _, err = recoverDir(t, dir, cfg)
	must(t, err)
	if _, err := os.Stat(filepath.Join(dir, truncWitness)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("witness after a start without the option: %v", err)
	}
	cfg.TruncateBadEOF = true
	_, _, err = recoverDir(t, dir, cfg)
	must(t, err)
}

// TestFTDetach: with a Fence (FT mode), recovery never appends to a file a
// previous incarnation may still hold open: a late write through an old
// descriptor changes nothing the new store serves or recovers silently.
func TestFTDetach(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	cfg.Fence = func() error { return nil }
	populate(t, dir, cfg, 5)
	cd := chanDir(dir, "foo")
	// The "old active" still holds descriptors on the files.
	oldDat, err := os.OpenFile(filepath.Join(cd, sliceDatName(1)), os.O_WRONLY, 0)
	must(t, err)
	defer oldDat.Close()
	oldSubs, err := os.OpenFile(filepath.Join(cd, subsFile), os.O_WRONLY, 0)
	must(t, err)
	defer oldSubs.Close()
	fi, err := oldSubs.Stat()
	must(t, err)

	s, rs, err := recoverDir(t, dir, cfg)
	must(t, err)
	ch := rs.Channels["foo"].Channel
	storeRange(t, ch.Msgs, 6, 8)
	must(t, ch.Msgs.Flush())
	sub := &store.SubState{ClientID: "new"}
	must(t, ch.Subs.CreateSub(sub))
	must(t, ch.Subs.Flush())
	if got := sliceNums(t, cd); len(got) != 2 {
		t.Fatalf("slices %v: the new active must append to a new slice", got)
	}
	// Late writes by the old incarnation: garbage at its old ends.
	end, err := oldDat.Seek(0, 2)
	must(t, err)
	_, err = oldDat.WriteAt([]byte("late garbage from the old active"), end)
	must(t, err)
	_, err = oldSubs.WriteAt([]byte("late garbage from the old active"), fi.Size())
	must(t, err)
	checkMsgs(t, ch.Msgs, 1, 8)
	must(t, s.Close())
	// The subs.log the old active wrote to is no longer the live one; the
	// late bytes in slice 1 are found by recovery, loudly.
	_, rs, err = recoverDir(t, dir, cfg)
	ce := asCorruption(t, err)
	if ce.File != filepath.Join(cd, sliceDatName(1)) {
		t.Fatalf("corruption reported in %s; want slice 1", ce.File)
	}
	_ = rs
}

// TestFTDetachLogs: late writes to subs.log and clients.log through a
// previous incarnation's descriptors go to files no longer in use.
func TestFTDetachLogs(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	cfg.Fence = func() error { return nil }
	populate(t, dir, cfg, 5)
	var olds []*os.File
	for _, p := range []string{filepath.Join(chanDir(dir, "foo"), subsFile), filepath.Join(dir, clientsFile)} {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		must(t, err)
		defer f.Close()
		olds = append(olds, f)
	}
	s, _, err := recoverDir(t, dir, cfg)
	must(t, err)
	must(t, s.AddClient(&store.Client{ID: "new"}))
	for _, f := range olds {
		fi, err := f.Stat()
		must(t, err)
		_, err = f.WriteAt([]byte("late garbage from the old active"), fi.Size())
		must(t, err)
	}
	must(t, s.Close())
	_, rs, err := recoverDir(t, dir, cfg)
	must(t, err)
	if len(rs.Clients) != 2 || len(rs.Channels["foo"].Subs) != 1 {
		t.Fatalf("recovered clients %+v subs %+v", rs.Clients, rs.Channels["foo"].Subs)
	}
}

// TestLateWriteIntoOlderSlice: an active that lost its lock without knowing
// it (frozen between its fence check and its write) writes its batch into
// the slice it had open, after the new active recovered and began a newer
// slice with the same sequences. The newer slice holds the acknowledged
// messages: recovery cuts the late ones (saving them to .broken) instead of
// refusing to start on sequences that do not increase.
func TestLateWriteIntoOlderSlice(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	cfg.Fence = func() error { return nil } // FT mode; neither store learns it lost the lock
	old := openTest(t, dir, cfg)
	t.Cleanup(func() { _ = old.Close() })
	_, err := old.Recover(context.Background())
	must(t, err)
	must(t, old.Init(testInfo("cid")))
	oldCh, err := old.CreateChannel("foo")
	must(t, err)
	storeRange(t, oldCh.Msgs, 1, 5)
	must(t, oldCh.Msgs.Flush())

	// The new active recovers and acknowledges 6..8.
	next, rs, err := recoverDir(t, dir, cfg)
	must(t, err)
	ms := rs.Channels["foo"].Channel.Msgs
	storeRange(t, ms, 6, 8)
	must(t, ms.Flush())
	must(t, next.Close())

	// The old active wakes up and writes its own 6 and 7.
	slice1 := filepath.Join(chanDir(dir, "foo"), sliceDatName(1))
	before, err := os.Stat(slice1)
	must(t, err)
	for seq := uint64(6); seq <= 7; seq++ {
		m := testMsg("foo", seq)
		m.Data = []byte("late")
		must(t, oldCh.Msgs.Store(m))
	}
	must(t, oldCh.Msgs.Flush())
	must(t, old.Close())
	after, err := os.Stat(slice1)
	must(t, err)
	if after.Size() <= before.Size() {
		t.Fatalf("the late batch did not land in %s (size %d, before %d)", slice1, after.Size(), before.Size())
	}

	rep, err := Verify(dir, testConfig(t))
	must(t, err)
	if !rep.Healthy() || len(rep.Problems) != 1 || rep.Problems[0].File != slice1 || rep.Problems[0].Offset != before.Size() {
		t.Fatalf("Verify = %s; want one repairable problem in %s at %d", rep, slice1, before.Size())
	}

	_, rs, err = recoverDir(t, dir, cfg)
	if err != nil {
		t.Fatalf("Recover after a late write into an older slice: %v", err)
	}
	checkMsgs(t, rs.Channels["foo"].Channel.Msgs, 1, 8)
	broken, err := os.ReadFile(slice1 + brokenSuffix)
	if err != nil || int64(len(broken)) != after.Size()-before.Size() {
		t.Fatalf(".broken holds %d bytes (%v); want the %d late bytes", len(broken), err, after.Size()-before.Size())
	}
	if got, _ := os.Stat(slice1); got.Size() != before.Size() {
		t.Fatalf("%s is %d bytes after recovery; want %d", slice1, got.Size(), before.Size())
	}
}
