//go:build unix

package filelock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/gofrs/flock"
	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/ft"
)

// File names inside the datastore directory.
const (
	LockFileName  = "stanft.lock"
	EpochFileName = "stanft.epoch"
	epochTmpName  = "stanft.epoch.tmp"
)

// lockFilePerm is the mode of a newly created lock file (before umask).
// An exclusive lock needs a read-write descriptor, so every member must be
// able to write it: members run as one user or share its group. The file
// carries no data.
const lockFilePerm fs.FileMode = 0o660

// Config configures a Lock.
type Config struct {
	// Dir is the datastore directory holding the lock and epoch files.
	// Required. It must exist: a missing directory is a fatal lock error.
	Dir string
	// Logger receives debug logs. Default: a null logger.
	Logger hclog.Logger
}

// DefaultConfig returns a Config with the defaults filled in; Dir is empty
// and must be set.
func DefaultConfig() Config {
	return Config{}
}

// Validate reports whether cfg can be used.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("filelock: Dir is required")
	}
	return nil
}

// Lock is the flock-based ft.Lock. The zero value is not usable; call New.
type Lock struct {
	dir, path string
	log       hclog.Logger

	mu    sync.Mutex // serializes every method; held during (cheap) syscalls only
	fl    *flock.Flock
	held  bool
	epoch ft.Epoch
	id    fileID // identity of the file we locked
	probe int    // second descriptor of the locked file, for the "still held" probe; -1 when none
}

var _ ft.Lock = (*Lock)(nil)

// New returns an unlocked Lock for cfg.Dir. It does not touch the
// filesystem: errors surface from TryAcquire, classified.
func New(cfg Config) (*Lock, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("filelock: resolve %s: %w", cfg.Dir, err)
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	l := &Lock{
		dir:   dir,
		path:  filepath.Join(dir, LockFileName),
		log:   log.Named("filelock"),
		probe: -1,
	}
	l.fl = l.newFlock()
	return l, nil
}

func (l *Lock) newFlock() *flock.Flock {
	return flock.New(l.path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(lockFilePerm))
}

// Describe names the lock for logs.
func (l *Lock) Describe() string { return "flock " + l.path }

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// TryAcquire takes the lock without waiting and stores the next epoch.
// See ft.Lock for the result contract. Calling it while holding the lock
// re-checks the lock and returns the current epoch.
func (l *Lock) TryAcquire(ctx context.Context) (ft.Epoch, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		if err := l.checkLocked(); err != nil {
			return 0, err
		}
		return l.epoch, nil
	}
	ok, err := l.fl.TryLock()
	if err != nil {
		return 0, classify("lock", l.path, err)
	}
	if !ok {
		return 0, fmt.Errorf("filelock: %s: %w", l.path, ft.ErrLockHeld)
	}
	// We hold the flock from here on: every failure below must unlock.
	e, id, err := l.afterLock()
	if err == nil {
		l.probe, err = openProbe(l.path, id)
	}
	if err != nil {
		if uerr := l.unlock(); uerr != nil {
			l.log.Warn("unlock after failed acquire", "path", l.path, "error", uerr)
		}
		return 0, err
	}
	l.held, l.epoch, l.id = true, e, id
	l.log.Debug("acquired", "path", l.path, "epoch", e)
	return e, nil
}

// afterLock verifies that the locked descriptor is the file at l.path and
// durably stores the next epoch. It must be called with the flock held.
func (l *Lock) afterLock() (ft.Epoch, fileID, error) {
	id, err := l.fdID()
	if err != nil {
		return 0, fileID{}, fmt.Errorf("filelock: stat locked %s: %w", l.path, err)
	}
	pathID, err := statID(l.path)
	if err != nil {
		return 0, fileID{}, classify("stat", l.path, err)
	}
	if pathID != id {
		// The file was deleted or replaced between open and flock: the lock
		// we got protects nothing. Another attempt will open the new file.
		return 0, fileID{}, fmt.Errorf("filelock: %s replaced while locking: %w", l.path, ft.ErrLockHeld)
	}
	prev, err := ReadEpoch(l.dir)
	if err != nil {
		if errors.Is(err, ErrCorruptEpoch) {
			return 0, fileID{}, fmt.Errorf("%w: %w", ft.ErrLockFatal, err)
		}
		return 0, fileID{}, classify("read epoch", filepath.Join(l.dir, EpochFileName), err)
	}
	next := prev + 1
	if next == 0 {
		return 0, fileID{}, fmt.Errorf("%w: filelock: epoch overflow in %s", ft.ErrLockFatal, filepath.Join(l.dir, EpochFileName))
	}
	if err := writeEpoch(l.dir, next); err != nil {
		return 0, fileID{}, classify("write epoch", filepath.Join(l.dir, EpochFileName), err)
	}
	return next, id, nil
}

// Check verifies that this Lock still holds the lock on the same file and
// that the stored epoch is still its own. It costs a few local syscalls
// (fstat, stat, a non-blocking flock on a second descriptor, open+read+close of the epoch
// file); see BenchmarkFence.
func (l *Lock) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.Fence()
}

// Fence is Check without a context, in the shape of the store's
// "before every durable batch" hook.
func (l *Lock) Fence() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkLocked()
}

// Epoch returns the epoch of the current holding, or 0 when not held.
func (l *Lock) Epoch() ft.Epoch {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return 0
	}
	return l.epoch
}

func (l *Lock) checkLocked() error {
	if !l.held {
		return fmt.Errorf("filelock: %s: not held: %w", l.path, ft.ErrLockLost)
	}
	if !l.fl.Locked() {
		return fmt.Errorf("filelock: %s: descriptor unlocked: %w", l.path, ft.ErrLockLost)
	}
	fdID, err := l.fdID()
	if err != nil {
		return fmt.Errorf("filelock: %s: stat locked descriptor: %w: %w", l.path, ft.ErrLockLost, err)
	}
	if fdID != l.id {
		return fmt.Errorf("filelock: %s: locked descriptor no longer refers to the locked file: %w", l.path, ft.ErrLockLost)
	}
	pathID, err := statID(l.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("filelock: %s: lock file deleted: %w", l.path, ft.ErrLockLost)
	case err != nil:
		return fmt.Errorf("filelock: stat %s: %w", l.path, err)
	case pathID != l.id:
		return fmt.Errorf("filelock: %s: lock file replaced: %w", l.path, ft.ErrLockLost)
	}
	locked, err := lockedElsewhere(l.probe)
	if err != nil {
		return fmt.Errorf("filelock: probe %s: %w", l.path, err)
	}
	if !locked {
		return fmt.Errorf("filelock: %s: lock no longer held: %w", l.path, ft.ErrLockLost)
	}
	e, err := readEpochRaw(l.dir)
	if err != nil {
		return fmt.Errorf("filelock: %w", err)
	}
	if e != l.epoch {
		return fmt.Errorf("filelock: %s: epoch on disk is %d, ours is %d: %w", filepath.Join(l.dir, EpochFileName), e, l.epoch, ft.ErrLockLost)
	}
	return nil
}

// Release unlocks and closes the lock descriptor. The files stay.
func (l *Lock) Release(_ context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return nil
	}
	l.held, l.epoch, l.id = false, 0, fileID{}
	closeProbe(&l.probe)
	if err := l.unlock(); err != nil {
		return fmt.Errorf("filelock: unlock %s: %w", l.path, err)
	}
	l.log.Debug("released", "path", l.path)
	return nil
}

// unlock drops the flock and closes the descriptor. If gofrs/flock fails to
// unlock (the descriptor is already broken), the Flock is replaced so that
// later attempts start from a clean state; the old descriptor is left to
// its finalizer.
func (l *Lock) unlock() error {
	err := l.fl.Unlock()
	if err != nil {
		l.fl = l.newFlock()
	}
	return err
}

func (l *Lock) fdID() (fileID, error) {
	fi, err := l.fl.Stat() // fstat of the locked descriptor while locked
	if err != nil {
		return fileID{}, err
	}
	return idOf(fi)
}

// fileID identifies a file independently of its path.
type fileID struct {
	dev, ino uint64
}

func idOf(fi fs.FileInfo) (fileID, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, fmt.Errorf("filelock: no device/inode for %s", fi.Name())
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil //nolint:unconvert // types differ per OS
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	return idOf(fi)
}

// openProbe opens a second descriptor (a second open file description) of
// the locked file and checks that it is the file identified by id.
func openProbe(path string, id fileID) (int, error) {
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, classify("open probe", path, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		_ = syscall.Close(fd)
		return -1, fmt.Errorf("filelock: stat probe %s: %w", path, err)
	}
	if (fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}) != id { //nolint:unconvert // types differ per OS
		_ = syscall.Close(fd)
		return -1, fmt.Errorf("filelock: %s replaced while locking: %w", path, ft.ErrLockHeld)
	}
	return fd, nil
}

func closeProbe(fd *int) {
	if *fd >= 0 {
		_ = syscall.Close(*fd)
		*fd = -1
	}
}

// lockedElsewhere reports whether an exclusive flock is held on the file
// by an open file description other than the probe's (ours, when called by
// the holder): it tries a non-blocking exclusive lock on the probe
// descriptor. Success means nobody held the lock; the probe lock is then
// dropped at once.
func lockedElsewhere(probe int) (bool, error) {
	if probe < 0 {
		return false, errors.New("no probe descriptor")
	}
	err := syscall.Flock(probe, syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		_ = syscall.Flock(probe, syscall.LOCK_UN)
		return false, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, nil
	default:
		return false, err
	}
}

// classify wraps err with ft.ErrLockFatal when retrying cannot help.
func classify(op, path string, err error) error {
	if isFatal(err) {
		return fmt.Errorf("filelock: %s %s: %w: %w", op, path, ft.ErrLockFatal, err)
	}
	return fmt.Errorf("filelock: %s %s: %w", op, path, err)
}

func isFatal(err error) bool {
	return errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.ENOTDIR) ||
		errors.Is(err, syscall.EISDIR)
}
