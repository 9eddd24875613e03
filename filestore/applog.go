package filestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// appendLog is an append-only record file (clients.log, subs.log) with a
// write buffer. Records reach the OS at write and the disk at flush(true).
// Bytes written since the last successful fsync are remembered: when a write
// or an fsync fails, the file is truncated back to the last synced size and
// those bytes are queued again, so a retry rewrites them (an fsync error may
// have dropped them from the page cache) and nothing acknowledged is lost.
type appendLog struct {
	s    *Store
	path string

	f         file  // nil until the first write
	size      int64 // bytes written to the OS
	synced    int64 // bytes known durable
	buf       []byte
	unsynced  []byte // copy of [synced, size)
	records   int    // records in the file and buf, for compaction
	needTrunc bool   // a truncation back to synced failed; retried first
	newFile   bool   // the file was created: fsync its directory at the next sync

	lastCompact time.Time
}

func (l *appendLog) add(typ byte, payload []byte) {
	l.buf = appendFrame(l.buf, l.s.tab, typ, payload)
	l.records++
}

// write hands the buffer to the OS. On failure the file is cut back to its
// last synced size and the unsynced bytes are queued again.
func (l *appendLog) write() error {
	if len(l.buf) == 0 && !l.needTrunc {
		return nil
	}
	if err := l.s.fence(); err != nil {
		return err
	}
	if l.f == nil {
		if _, err := l.s.fs.Stat(l.path); errors.Is(err, os.ErrNotExist) {
			l.newFile = true
		}
		f, err := l.s.openRW(l.path)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return fmt.Errorf("filestore: stat %s: %w", l.path, err)
		}
		l.f, l.size, l.synced = f, fi.Size(), fi.Size()
	}
	if l.needTrunc {
		if err := l.f.Truncate(l.synced); err != nil {
			return fmt.Errorf("filestore: truncate %s to %d: %w", l.path, l.synced, err)
		}
		l.needTrunc = false
	}
	if len(l.buf) == 0 {
		return nil
	}
	if _, err := l.f.WriteAt(l.buf, l.size); err != nil {
		l.undo()
		return fmt.Errorf("filestore: write %s at %d: %w", l.path, l.size, err)
	}
	if l.s.cfg.DoSync {
		l.unsynced = append(l.unsynced, l.buf...)
	}
	l.size += int64(len(l.buf))
	l.buf = l.buf[:0]
	return nil
}

// undo cuts the file back to the synced size and requeues unsynced bytes.
func (l *appendLog) undo() {
	if l.f != nil {
		if err := l.f.Truncate(l.synced); err != nil {
			l.needTrunc = true
		}
	}
	l.buf = append(append([]byte(nil), l.unsynced...), l.buf...)
	l.unsynced = l.unsynced[:0]
	l.size = l.synced
}

// flush writes the buffer and, if doSync, fsyncs the file.
func (l *appendLog) flush(doSync bool) error {
	if err := l.write(); err != nil {
		return err
	}
	if !doSync || l.f == nil || l.size == l.synced {
		return nil
	}
	if err := l.s.fence(); err != nil {
		return err
	}
	var dirs []string
	if l.newFile {
		dirs = []string{filepath.Dir(l.path)}
	}
	if err := l.s.syncFiles([]file{l.f}, dirs); err != nil {
		l.undo()
		return err
	}
	l.newFile = false
	l.synced = l.size
	l.unsynced = l.unsynced[:0]
	return nil
}

// dropTail removes the last n buffered bytes (a record whose write failed
// and that the caller reports as not done).
func (l *appendLog) dropTail(n int, records int) {
	if n <= len(l.buf) {
		l.buf = l.buf[:len(l.buf)-n]
		l.records -= records
	}
}

// shouldCompact reports whether the compaction options allow rewriting the
// file now, given how many of its records are live.
func (l *appendLog) shouldCompact(live int) bool {
	c := &l.s.cfg
	if !c.CompactEnabled || l.records == 0 || l.size+int64(len(l.buf)) < c.CompactMinSize {
		return false
	}
	if time.Since(l.lastCompact) < c.CompactInterval {
		return false
	}
	dead := l.records - live
	return dead*100 >= c.CompactFragmentation*l.records
}

// replace atomically replaces the file with data holding records records
// (the live state), as tmp, fsync, rename, fsync dir.
func (l *appendLog) replace(data []byte, records int) error {
	if err := l.s.fence(); err != nil {
		return err
	}
	if err := writeFileAtomic(l.s.fs, l.path, data); err != nil {
		return err
	}
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
	f, err := l.s.fs.OpenFile(l.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("filestore: reopen %s: %w", l.path, err)
	}
	l.f = f
	l.size, l.synced = int64(len(data)), int64(len(data))
	l.buf, l.unsynced = l.buf[:0], l.unsynced[:0]
	l.records = records
	l.needTrunc = false
	l.lastCompact = time.Now()
	return nil
}

// close writes and fsyncs what is pending (if sync) and closes the file.
func (l *appendLog) close(sync bool) error {
	var err error
	if sync {
		err = l.flush(true)
	}
	if l.f != nil {
		err = errors.Join(err, l.f.Close())
		l.f = nil
	}
	return err
}
