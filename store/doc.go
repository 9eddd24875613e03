// Package store defines the storage contract of stanft: the interfaces that
// the STAN protocol engine (package server) uses, the records they persist,
// the channel limits and channel-name rules. Concrete stores live in
// memstore and filestore; every store passes the conformance suite in
// store/storetest, which is the executable form of this contract.
//
// # Durability
//
//   - Store.Init and Store.AddClient are durable when they return.
//   - MsgStore.Store and every SubStore method may buffer; their data is
//     durable once the matching Flush returns nil. The server flushes the
//     message store before it sends a PubAck or delivers the messages, and
//     the subscription store before it answers a subscription request.
//   - DeleteClient, DeleteChannel and the deletion of subscriptions become
//     durable eventually (at the latest with the next flush or Close).
//   - A store never persists a partial record as valid: recovery either
//     returns the record or drops it (a torn tail), never garbage.
//
// # Ordering and identity
//
//   - Sequences are assigned by the caller, start at 1 and grow. Store
//     ignores a message whose sequence is not above the last stored one, so
//     a retried batch cannot duplicate or reorder messages. Gaps are allowed.
//   - FirstAndLastSequence is (0, 0) until the first message; after messages
//     were dropped it is (oldest kept, newest stored), and (last+1, last)
//     once every message expired by age. The last sequence never goes back.
//   - GetSequenceFromTimestamp is 0 until the first message, otherwise the
//     first kept sequence whose timestamp is >= ts, or last+1 if none is.
//   - Subscription IDs are assigned by CreateSub, grow within a channel and
//     are never reused there, not even after the highest one is deleted, and
//     not after recovery.
//   - MsgStore.Store takes ownership of the message; Lookup may return the
//     stored message itself, so callers treat it as read-only.
//
// # Limits
//
// Limits resolves per-channel limits when a channel is created
// (Limits.ForChannel). MaxChannels and MaxSubscriptions reject creations
// (ErrTooManyChannels, ErrTooManySubs; offline durables and queue shadows
// count). MaxMsgs and MaxBytes never reject a message: the oldest messages
// are dropped, always keeping the newest, and the store logs
//
//	Reached limits for store "<ch>" (msgs=a/b bytes=c/d), dropping old messages to make room for new ones
//
// logged right after the first drop, with the counts after it and the bytes
// as "7 B" or "976.56 MB".
//
// once per channel. MaxAge drops messages in the background, within about
// a second of their expiry; every message may go. Limits apply when a
// message is stored or expires: they are not retroactive, except that a
// persistent store may apply them to recovered messages.
//
// # Recovery
//
// Recover is called once, first. It returns (nil, nil) for a fresh
// datastore (no server info) and for a memory store. Otherwise it returns
// the server info, the registered clients (with ConnIDs), and every channel
// with its messages and its subscriptions: deleted clients, channels and
// subscriptions are gone; closed durables stay closed; each sub's LastSent
// is max(stored LastSent, highest sequence ever recorded as sent); Pending
// holds the sequences recorded as sent and not acknowledged. Recovered
// channels count towards MaxChannels.
//
// # Concurrency and closing
//
// A Store and its channels are safe for concurrent use, but the server
// serialises writes to one channel: one goroutine at a time calls Store and
// Flush on a given MsgStore and the SubStore methods of that channel, while
// others may read it. After Store.Close, and for a channel's stores after
// DeleteChannel, every method fails with ErrClosed, except that Close of a
// channel's MsgStore or SubStore is idempotent and returns nil.
package store
