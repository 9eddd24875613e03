package filestore

import (
	"fmt"
	"os"
	"path/filepath"
)

// tmpSuffix marks a file being replaced; leftovers are removed by recovery.
const tmpSuffix = ".tmp"

// writeFileAtomic replaces path with data: write path.tmp, fsync it, rename
// it over path, fsync the directory. A crash at any point leaves either the
// old or the new content, never a mix. (Order matters: the rename must not
// reach the disk before the data it points to, hence the first fsync.)
func writeFileAtomic(fsys vfs, path string, data []byte) error {
	tmp := path + tmpSuffix
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("filestore: create %s: %w", tmp, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		_ = f.Close()
		_ = fsys.Remove(tmp)
		return fmt.Errorf("filestore: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = fsys.Remove(tmp)
		return fmt.Errorf("filestore: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("filestore: close %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("filestore: rename %s: %w", tmp, err)
	}
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("filestore: fsync dir of %s: %w", path, err)
	}
	return nil
}

// readFile reads a whole (small) file through the seam.
func readFile(fsys vfs, path string) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, fi.Size())
	n, err := f.ReadAt(buf, 0)
	if n == len(buf) {
		return buf, nil
	}
	return nil, err
}
