package filestore

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
)

// scanChunk is the read size of recovery scans.
const scanChunk = 1 << 20

// chunkReader reads a file sequentially in large chunks.
type chunkReader struct {
	f    file
	size int64  // file size
	off  int64  // file offset of buf[0]
	buf  []byte // buf[:n] holds data
	n    int
	pos  int
}

// chunkPool recycles scan buffers across files and recoveries.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, scanChunk); return &b }}

func newChunkReader(f file, size int64, from int64) *chunkReader {
	if size-from < scanChunk/16 {
		// Small files (most channels of a large datastore) do not need
		// a pooled megabyte.
		return &chunkReader{f: f, size: size, off: from, buf: make([]byte, max(size-from, 64))}
	}
	return &chunkReader{f: f, size: size, off: from, buf: *chunkPool.Get().(*[]byte)}
}

// release recycles the reader's buffer; the reader must not be used again.
func (r *chunkReader) release() {
	if cap(r.buf) == scanChunk {
		b := r.buf[:scanChunk]
		chunkPool.Put(&b)
	}
	r.buf = nil
}

// offset is the file offset of the next byte.
func (r *chunkReader) offset() int64 { return r.off + int64(r.pos) }

// next returns the next k bytes (fewer at EOF), valid until the next call.
func (r *chunkReader) next(k int) ([]byte, error) {
	if r.n-r.pos < k {
		copy(r.buf, r.buf[r.pos:r.n])
		r.off += int64(r.pos)
		r.n -= r.pos
		r.pos = 0
		if k > len(r.buf) {
			nb := make([]byte, k)
			copy(nb, r.buf[:r.n])
			r.buf = nb
		}
		want := min(int64(len(r.buf)-r.n), r.size-(r.off+int64(r.n)))
		if want > 0 {
			got, err := r.f.ReadAt(r.buf[r.n:r.n+int(want)], r.off+int64(r.n))
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("filestore: read %s at %d: %w", r.f.Name(), r.off+int64(r.n), err)
			}
			r.n += got
		}
	}
	k = min(k, r.n-r.pos)
	b := r.buf[r.pos : r.pos+k]
	r.pos += k
	return b, nil
}

// validTypes reports which record types a file may hold.
type validTypes func(typ byte) bool

// scanResult is the outcome of scanning one record file.
type scanResult struct {
	valid int64 // length of the valid prefix
	torn  bool  // bytes after valid are a torn tail
}

// scanRecords reads every record of f (size bytes) from offset from, calling
// fn for each valid one. The first invalid record (short, bad length, bad
// type, bad checksum) ends the scan: if no valid record starts anywhere after
// it, the rest is a torn tail; otherwise it is a *CorruptionError, unless
// cutBad is set (Config.TruncateBadEOF), which makes the rest a tail to cut
// whatever follows.
func scanRecords(f file, path string, size, from int64, tab *crc32.Table, ok validTypes, cutBad bool,
	fn func(off int64, typ byte, payload []byte) error) (scanResult, error) {
	r := newChunkReader(f, size, from)
	defer r.release()
	for {
		off := r.offset()
		if off == size {
			return scanResult{valid: off}, nil
		}
		hb, err := r.next(frameHeaderSize)
		if err != nil {
			return scanResult{}, err
		}
		bad := error(nil)
		var h frameHeader
		var payload []byte
		if len(hb) < frameHeaderSize {
			bad = errShortRecord
		} else {
			h = decodeHeader(hb)
			switch {
			case h.size > maxRecordSize || off+frameHeaderSize+int64(h.size) > size:
				bad = errBadLength
			case !ok(h.typ):
				bad = errBadType
			default:
				payload, err = r.next(int(h.size))
				if err != nil {
					return scanResult{}, err
				}
				if frameCRC(tab, h.typ, payload) != h.crc {
					bad = errBadCRC
				}
			}
		}
		if bad != nil {
			if cutBad {
				return scanResult{valid: off, torn: true}, nil
			}
			later, err := findValidRecord(f, off+1, size, tab, ok)
			if err != nil {
				return scanResult{}, err
			}
			if later >= 0 {
				return scanResult{valid: off}, &CorruptionError{File: path, Offset: off,
					Err: fmt.Errorf("%w (valid records follow at offset %d, so this is not a torn write)", bad, later)}
			}
			return scanResult{valid: off, torn: true}, nil
		}
		if err := fn(off, h.typ, payload); err != nil {
			return scanResult{valid: off}, err
		}
	}
}

// findValidRecord returns the offset of the first valid record starting at
// or after from, or -1. It runs only on damaged files.
func findValidRecord(f file, from, size int64, tab *crc32.Table, ok validTypes) (int64, error) {
	if from >= size {
		return -1, nil
	}
	data := make([]byte, size-from)
	if _, err := readAt(f, data, from); err != nil {
		return -1, err
	}
	for i := 0; i+frameHeaderSize <= len(data); i++ {
		h := decodeHeader(data[i:])
		if !ok(h.typ) || int64(h.size) > int64(len(data)-i-frameHeaderSize) {
			continue
		}
		p := data[i+frameHeaderSize : i+frameHeaderSize+int(h.size)]
		if frameCRC(tab, h.typ, p) == h.crc {
			return from + int64(i), nil
		}
	}
	return -1, nil
}

// cutTail copies bytes [from, size) of path to a .broken file, then
// truncates path at from and fsyncs it.
func (s *Store) cutTail(f file, path string, from, size int64, why string) error {
	tail := make([]byte, size-from)
	if _, err := readAt(f, tail, from); err != nil {
		return err
	}
	broken := path + brokenSuffix
	for i := 1; ; i++ {
		if _, err := s.fs.Stat(broken); errors.Is(err, os.ErrNotExist) {
			break
		}
		broken = fmt.Sprintf("%s%s.%d", path, brokenSuffix, i)
	}
	bf, err := s.fs.OpenFile(broken, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("filestore: create %s: %w", broken, err)
	}
	if _, err := bf.WriteAt(tail, 0); err != nil {
		_ = bf.Close()
		return fmt.Errorf("filestore: write %s: %w", broken, err)
	}
	if err := bf.Sync(); err != nil {
		_ = bf.Close()
		return fmt.Errorf("filestore: fsync %s: %w", broken, err)
	}
	if err := bf.Close(); err != nil {
		return fmt.Errorf("filestore: close %s: %w", broken, err)
	}
	if err := f.Truncate(from); err != nil {
		return fmt.Errorf("filestore: truncate %s at %d: %w", path, from, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("filestore: fsync %s: %w", path, err)
	}
	s.log.Warn("truncated the end of a file", "file", path, "offset", from, "bytes", size-from,
		"reason", why, "saved_to", broken)
	return nil
}
