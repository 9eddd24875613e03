package filestore

import (
	"errors"
	"fmt"

	"github.com/stanft/stanft/store"
)

// Sentinel errors of the file store.
var (
	// ErrForeignDatastore is returned when the directory holds a datastore
	// written by nats-streaming-server (SPEC D4).
	ErrForeignDatastore = errors.New("filestore: directory holds a nats-streaming-server datastore; stanft cannot use it")
	// ErrUnknownFormat is returned for a marker file of an unknown version.
	ErrUnknownFormat = errors.New("filestore: unknown datastore format")
	// ErrFenced wraps the error of Config.Fence once it failed: the store
	// refuses every later write. errors.Is(ErrFenced, store.ErrFenced)
	// holds, so callers need not know the store type.
	ErrFenced error = &fencedError{}
	// ErrRecovered is returned by a second call to Recover.
	ErrRecovered = errors.New("filestore: already recovered")
)

// fencedError is the type of ErrFenced: its own text, and store.ErrFenced
// for errors.Is.
type fencedError struct{}

func (*fencedError) Error() string {
	return "filestore: fenced off: this process may no longer write the datastore"
}

func (*fencedError) Unwrap() error { return store.ErrFenced }

// CorruptionError reports damaged data that recovery must not repair on its
// own: anything other than a torn tail. File is the damaged file, Offset the
// byte offset of the damaged record.
type CorruptionError struct {
	File   string
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("filestore: corrupted datastore: %s at offset %d: %v; "+
		"run `stanft store verify <dir>` for a full report, then restore the datastore from a backup "+
		"(or move the damaged file aside, accepting the loss of its data)", e.File, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// Reasons carried in CorruptionError.Err.
var (
	errBadCRC      = errors.New("record checksum mismatch")
	errBadLength   = errors.New("record length out of range")
	errBadType     = errors.New("unexpected record type")
	errBadPayload  = errors.New("undecodable record payload")
	errBadSequence = errors.New("message sequence not increasing")
	errMissingInfo = errors.New("server info missing while clients or channels exist")
	errMissingMeta = errors.New("channel metadata missing")
)
