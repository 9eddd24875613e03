//go:build unix && !linux

package filelock

import "errors"

// CloseLockDescriptorForTest needs /proc/self/fdinfo (Linux); elsewhere it
// reports that it cannot run, and tests skip.
func CloseLockDescriptorForTest(string) error {
	return errors.New("filelock: abrupt descriptor close is only supported on Linux")
}
