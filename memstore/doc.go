// Package memstore is the in-memory implementation of store.Store.
//
// It has the semantics of every store (see package store and the
// conformance suite in store/storetest) except that nothing persists:
// Recover always returns (nil, nil) and Flush is a no-op. It is not allowed
// in an FT group.
//
// Messages are kept by pointer: MsgStore.Store takes ownership of the
// message and Lookup returns the stored message, which callers must treat as
// read-only. Message sizes are counted as the marshalled pb.MsgProto size.
package memstore
