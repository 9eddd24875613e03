//go:build unix

package filelock

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/stanft/stanft/ft"
)

// ErrCorruptEpoch: the epoch file exists but does not hold a valid epoch.
// It is never repaired automatically: resetting the epoch would defeat
// fencing. Fix it by hand (write a number greater than any epoch used).
var ErrCorruptEpoch = errors.New("filelock: corrupt epoch file")

// maxEpochFileSize bounds what ReadEpoch reads: 20 digits and a newline.
const maxEpochFileSize = 21

// ReadEpoch returns the epoch stored in dir, or 0 if none was ever stored.
func ReadEpoch(dir string) (ft.Epoch, error) {
	p := filepath.Join(dir, EpochFileName)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read epoch %s: %w", p, err)
	}
	e, err := parseEpoch(b)
	if err != nil {
		return 0, fmt.Errorf("%w %s: %w", ErrCorruptEpoch, p, err)
	}
	return e, nil
}

// readEpochRaw is ReadEpoch without os.File overhead (three syscalls),
// for the fencing check on the flush path. It opens the file anew each
// time so that NFS close-to-open consistency fetches the current content.
func readEpochRaw(dir string) (ft.Epoch, error) {
	p := filepath.Join(dir, EpochFileName)
	fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("read epoch %s: %w", p, err)
	}
	var buf [maxEpochFileSize + 1]byte
	n, rerr := syscall.Read(fd, buf[:])
	cerr := syscall.Close(fd)
	if err := errors.Join(rerr, cerr); err != nil {
		return 0, fmt.Errorf("read epoch %s: %w", p, err)
	}
	e, err := parseEpoch(buf[:max(n, 0)])
	if err != nil {
		return 0, fmt.Errorf("%w %s: %w", ErrCorruptEpoch, p, err)
	}
	return e, nil
}

func parseEpoch(b []byte) (ft.Epoch, error) {
	if len(b) > maxEpochFileSize {
		return 0, fmt.Errorf("%d bytes, want at most %d", len(b), maxEpochFileSize)
	}
	digits, ok := bytes.CutSuffix(b, []byte("\n"))
	if !ok {
		return 0, fmt.Errorf("content %q does not end with a newline", b)
	}
	if len(digits) == 0 || digits[0] == '+' || digits[0] == '-' {
		return 0, fmt.Errorf("content %q is not a decimal number", b)
	}
	n, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("content %q: %w", b, err)
	}
	return ft.Epoch(n), nil
}

// writeEpoch replaces dir's epoch file durably: write a temporary file,
// fsync it, rename it over the epoch file, fsync the directory. Only the
// lock holder calls it, so the fixed temporary name cannot collide.
func writeEpoch(dir string, e ft.Epoch) error {
	tmp := filepath.Join(dir, epochTmpName)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(strconv.FormatUint(uint64(e), 10) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	// The rename must follow the fsync of the data: otherwise a crash could
	// leave an empty epoch file under the final name.
	if err := os.Rename(tmp, filepath.Join(dir, EpochFileName)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
