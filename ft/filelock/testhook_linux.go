package filelock

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// CloseLockDescriptorForTest simulates the abrupt loss of a lock held by
// this process on lockPath: it finds the descriptor that holds the flock
// (via /proc/self/fdinfo) and duplicates /dev/null over it, so the kernel
// drops the lock while the descriptor number stays valid for its owner.
// It exists for tests (this package's and the elector's integration tests);
// production code never calls it.
func CloseLockDescriptorForTest(lockPath string) error {
	want, err := filepath.EvalSymlinks(lockPath)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, ent := range entries {
		fd, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join("/proc/self/fd", ent.Name()))
		if err != nil || target != want {
			continue
		}
		info, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", ent.Name()))
		if err != nil || !strings.Contains(string(info), "FLOCK") {
			continue
		}
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer null.Close()
		return syscall.Dup3(int(null.Fd()), fd, syscall.O_CLOEXEC)
	}
	return fmt.Errorf("filelock: no descriptor of this process holds a flock on %s", lockPath)
}
