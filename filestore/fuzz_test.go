package filestore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// fuzzFiles are the files FuzzRecover may replace, relative to the
// datastore.
var fuzzFiles = []string{
	filepath.Join(channelsDir, "foo", sliceDatName(1)),
	filepath.Join(channelsDir, "foo", sliceIdxName(1)),
	filepath.Join(channelsDir, "foo", subsFile),
	filepath.Join(channelsDir, "foo", metaFile),
	clientsFile,
	infoFile,
	markerFile,
}

// FuzzRecover replaces one file of a valid datastore with arbitrary bytes:
// recovery and Verify must never panic, and a successful recovery must be
// consistent (every message between first and last readable).
func FuzzRecover(f *testing.F) {
	tmpl := f.TempDir()
	cfg := DefaultConfig()
	populate(f, tmpl, cfg, 20)
	for i, rel := range fuzzFiles {
		b, err := os.ReadFile(filepath.Join(tmpl, rel))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
		if len(b) > 10 {
			f.Add(uint8(i), b[:len(b)-5])
			c := append([]byte(nil), b...)
			c[len(c)/2] ^= 0x10
			f.Add(uint8(i), c)
		}
		f.Add(uint8(i), []byte{})
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		dir := t.TempDir()
		copyDir(t, tmpl, dir)
		must(t, os.WriteFile(filepath.Join(dir, fuzzFiles[int(which)%len(fuzzFiles)]), data, 0o640))
		if _, err := Verify(dir, cfg); err != nil {
			t.Logf("Verify: %v", err)
		}
		s, err := Open(dir, cfg)
		if err != nil {
			return
		}
		defer s.Close()
		rs, err := s.Recover(context.Background())
		if err != nil || rs == nil {
			return
		}
		for _, rc := range rs.Channels {
			first, last, err := rc.Channel.Msgs.FirstAndLastSequence()
			must(t, err)
			for seq := first; seq <= last && last-first < 1000; seq++ {
				if _, err := rc.Channel.Msgs.Lookup(seq); err != nil {
					t.Fatalf("Lookup(%d) after a successful recovery: %v", seq, err)
				}
			}
		}
	})
}
