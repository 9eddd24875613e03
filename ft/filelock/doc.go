// Package filelock implements ft.Lock over a lock file in the datastore
// directory, using flock(2) through github.com/gofrs/flock, plus a durable
// epoch file that serves as the fencing token.
//
// Files (both in the datastore directory, never deleted by stanft):
//
//	stanft.lock   the lock file; an exclusive flock is held on a descriptor
//	              opened read-write (so that NFS, where Linux emulates flock
//	              with a whole-file POSIX lock, sees the lock too).
//	stanft.epoch  the current epoch as decimal ASCII and a newline; replaced
//	              atomically (tmp → fsync → rename → fsync dir) by every
//	              successful TryAcquire, before TryAcquire returns.
//
// flock locks belong to an open file description, so two Lock values in one
// process exclude each other exactly as two processes do.
//
// Never delete stanft.lock while members run: a member blocked on the old
// inode and a member locking a new file at the same path would both "hold"
// a lock. Check detects a deleted or replaced lock file and reports
// ft.ErrLockLost.
package filelock
