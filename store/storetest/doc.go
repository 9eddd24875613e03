// Package storetest is the conformance suite every store.Store
// implementation must pass. A store package calls Run from its own tests
// with a Factory that opens a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, l store.Limits) store.Store {
//			s, err := memstore.New(memstore.Config{Limits: l, Logger: logger(t)})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		}, storetest.Caps{})
//	}
//
// Cases take the factory as a parameter, so a new backend needs one call,
// not edits in every case. Persistent stores also pass Caps.Reopen and get
// the recovery cases (write, close, reopen, recover, compare).
//
// What the suite expects beyond the method docs of package store:
//   - The suite calls Recover first on every store it opens; a fresh store
//     returns (nil, nil), and so does a reopened datastore that never got
//     Init.
//   - Limits() deep-equals the limits given to the factory (no defaults
//     filled in) and is a copy.
//   - Nil arguments (Init, AddClient, CreateSub, UpdateSub, Store) return an
//     error, never panic.
//   - Store.Close twice returns ErrClosed; after Store.Close or
//     DeleteChannel the channel's methods return ErrClosed, while its
//     Msgs.Close and Subs.Close return nil.
//   - UpdateSub of an unknown ID returns ErrNotFound; DeleteSub, and
//     AckSeqPending of never-sent sequences, ignore unknown IDs.
//   - State bytes are at least the marshalled size of the kept messages and
//     at most 64 bytes more per message, grow with every message, and are
//     the same after recovery as before.
//   - MaxAge cases run in testing/synctest bubbles (the factory is called
//     inside the bubble): messages must be gone within 2 s after reaching
//     MaxAge, measured against time.Now and the message Timestamp, and every
//     goroutine the store starts must end by Close.
//   - Sub IDs continue above every ID ever assigned in the channel after
//     recovery, also when the highest one was deleted. After recovery the
//     suite creates and deletes one probe subscription per channel.
package storetest
