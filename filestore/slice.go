package filestore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// msgRecordOverhead is what each message counts beyond its marshalled size
// in MsgStore.State bytes and against MaxBytes: the reference's 40 bytes
// (SPEC §7.2), so that byte counts and limits read the same on both. The
// real cost here, frameHeaderSize + idxEntrySize, is one byte more.
const msgRecordOverhead = 40

// slice is one message file pair, msgs.N.dat + msgs.N.idx. The last slice of
// a channel is the one appended to; older ones are read-only.
type slice struct {
	num     int
	datPath string
	idxPath string
	dat     file // nil while closed (older slices are opened on demand)
	idx     file

	first   uint64 // sequence of entry 0; 0 while empty
	last    uint64 // sequence of the last entry
	firstTS int64  // timestamp of entry 0 (for SliceMaxAge)
	count   int    // entries, including buffered ones
	datSize int64  // dat bytes, including buffered ones
	live    int    // index of the first entry not removed by limits
}

func newSlice(dir string, num int) *slice {
	return &slice{
		num:     num,
		datPath: filepath.Join(dir, sliceDatName(num)),
		idxPath: filepath.Join(dir, sliceIdxName(num)),
	}
}

func (sl *slice) size() int64 { return sl.datSize + int64(sl.count)*idxEntrySize }

// open opens both files read-write (created if missing).
func (sl *slice) open(s *Store) error {
	if sl.dat != nil {
		return nil
	}
	dat, err := s.openRW(sl.datPath)
	if err != nil {
		return err
	}
	idx, err := s.openRW(sl.idxPath)
	if err != nil {
		_ = dat.Close()
		return err
	}
	sl.dat, sl.idx = dat, idx
	return nil
}

func (sl *slice) closeFiles() error {
	var errs []error
	if sl.dat != nil {
		errs = append(errs, sl.dat.Close())
	}
	if sl.idx != nil {
		errs = append(errs, sl.idx.Close())
	}
	sl.dat, sl.idx = nil, nil
	return errors.Join(errs...)
}

// readAt reads len(b) bytes at off, tolerating io.EOF when b was filled.
func readAt(f file, b []byte, off int64) (int, error) {
	n, err := f.ReadAt(b, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err != nil {
		return n, fmt.Errorf("filestore: read %s at %d: %w", f.Name(), off, err)
	}
	return n, nil
}

// remove deletes the slice's files, or renames them .bak and runs the
// archive script.
func (sl *slice) remove(s *Store, channelName string) {
	_ = sl.closeFiles()
	if s.cfg.SliceArchiveScript == "" {
		for _, p := range []string{sl.datPath, sl.idxPath} {
			if err := s.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Error("removing slice failed", "file", p, "error", err)
			}
		}
		return
	}
	dat, idx := sl.datPath+bakSuffix, sl.idxPath+bakSuffix
	if err := s.fs.Rename(sl.datPath, dat); err != nil {
		s.log.Error("archiving slice failed", "file", sl.datPath, "error", err)
		return
	}
	if err := s.fs.Rename(sl.idxPath, idx); err != nil {
		s.log.Error("archiving slice failed", "file", sl.idxPath, "error", err)
		return
	}
	s.runArchiveScript(channelName, dat, idx)
}
