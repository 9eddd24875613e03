package filestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/store"
)

func testMsg(ch string, seq uint64) *pb.MsgProto {
	return &pb.MsgProto{
		Sequence:  seq,
		Subject:   ch,
		Data:      bytes.Repeat([]byte{byte(seq)}, 100+int(seq%7)),
		Timestamp: time.Now().UnixNano(),
	}
}

func testInfo(cid string) *store.ServerInfo {
	return &store.ServerInfo{ClusterID: cid, Discovery: "_STAN.discover." + cid, Publish: "_STAN.pub." + cid,
		Subscribe: "s", Unsubscribe: "u", Close: "c", SubClose: "sc", AcksSubs: "a"}
}

// populate writes info, a client, n messages in channel foo (flushed) and a
// subscription with pending 1..3, then closes the store.
func populate(t testing.TB, dir string, cfg Config, n int) {
	t.Helper()
	s := openTest(t, dir, cfg)
	if _, err := s.Recover(context.Background()); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	must(t, s.Init(testInfo("cid")))
	must(t, s.AddClient(&store.Client{ID: "me", HbInbox: "hb", ConnID: []byte("conn")}))
	ch, err := s.CreateChannel("foo")
	must(t, err)
	for i := 1; i <= n; i++ {
		must(t, ch.Msgs.Store(testMsg("foo", uint64(i))))
	}
	must(t, ch.Msgs.Flush())
	sub := &store.SubState{ClientID: "me", Inbox: "in", AckInbox: "ack", MaxInFlight: 10, AckWaitInSecs: 30}
	must(t, ch.Subs.CreateSub(sub))
	for i := uint64(1); i <= 3; i++ {
		must(t, ch.Subs.AddSeqPending(sub.ID, i))
	}
	must(t, ch.Subs.Flush())
	must(t, s.Close())
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// recoverDir opens dir and recovers it.
func recoverDir(t testing.TB, dir string, cfg Config) (*Store, *store.RecoveredState, error) {
	t.Helper()
	s := openTest(t, dir, cfg)
	t.Cleanup(func() { _ = s.Close() })
	rs, err := s.Recover(context.Background())
	return s, rs, err
}

// checkMsgs checks that channel ch holds exactly sequences first..last with
// the content testMsg gives them.
func checkMsgs(t testing.TB, ms store.MsgStore, first, last uint64) {
	t.Helper()
	f, l, err := ms.FirstAndLastSequence()
	must(t, err)
	if f != first || l != last {
		t.Fatalf("first, last = %d, %d; want %d, %d", f, l, first, last)
	}
	for seq := first; seq <= last && last > 0; seq++ {
		m, err := ms.Lookup(seq)
		if err != nil {
			t.Fatalf("Lookup(%d): %v", seq, err)
		}
		want := testMsg("foo", seq)
		if m == nil || m.Sequence != seq || !bytes.Equal(m.Data, want.Data) {
			t.Fatalf("Lookup(%d) = %v", seq, m)
		}
	}
}

// copyDir copies a datastore directory tree.
func copyDir(t testing.TB, src, dst string) { testenv.CopyDir(t, src, dst) }

// treeHash hashes every file name and content under dir.
func treeHash(t testing.TB, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintln(h, p)
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	must(t, err)
	return fmt.Sprintf("%x", h.Sum(nil))
}

func chanDir(dir, name string) string { return filepath.Join(dir, channelsDir, channelDirName(name)) }

// recordOffsets returns the offsets of the records of a record file.
func recordOffsets(t testing.TB, path string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	var offs []int64
	for off := 0; off < len(b); {
		offs = append(offs, int64(off))
		h := decodeHeader(b[off:])
		off += frameHeaderSize + int(h.size)
	}
	return offs
}

func asCorruption(t testing.TB, err error) *CorruptionError {
	t.Helper()
	var ce *CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v; want a *CorruptionError", err)
	}
	return ce
}
