// Package server is the STAN protocol engine of stanft: it answers the
// requests of NATS Streaming clients (stan.go) on the subjects of SPEC §1,
// stores messages and subscription state through a store.Store, and
// delivers messages with acks, redelivery, durables and queue groups.
//
// Lifecycle: New validates the Config and does no I/O. Activate connects to
// NATS, checks that no other standalone server uses the cluster ID (unless
// Config.FT), recovers the store and subscribes the STAN subjects; it
// returns once the server serves clients. Deactivate stops serving at once,
// stores and acknowledges the publishes already received (or leaves them
// unacknowledged) and flushes the store without closing it: the caller
// closes the store, then releases the FT lock. SetStore gives the next
// Activate a freshly opened store. Close deactivates and closes the NATS
// connections.
//
// Concurrency: NATS callbacks parse requests. Publishes go through one
// storage loop (ioLoop) that stores a batch of up to IOBatchSize messages,
// flushes each touched channel once, delivers, then sends the PubAcks. Each
// channel has a mutex that guards its subscriptions and serialises its
// store calls; the server mutex guards the client and channel registries
// (lock order: server, channel, client). Four NATS connections are used
// (_NSS-<cid>-general, -pub, -acks, -send); deliveries, PubAcks and
// subscription responses share the send connection so that a subscription
// response precedes its first message, and close/unsubscribe requests pass
// a barrier on the acks and publish connections first (SPEC §1).
//
// After an FT activation the recovered messages whose ack deadline passed
// are redelivered in order over Config.ActivationSpread, and client
// heartbeat deadlines start afresh (STYLE G12).
//
// Known differences from the reference: a store failure does not panic. A
// failed Store or Flush (disk full, I/O error) fails the publishes
// concerned with an error PubAck ("stan: store failure: ...") and nothing
// else: their sequences are handed out again,
// they are never delivered, the server keeps serving and the next batch
// tries again (a failed subscription flush likewise fails the subscription
// request). Only a fenced or closed store is fatal: publishes are then left
// unacknowledged, the state becomes FAILED and Config.OnFatal is called.
//
// The Server implements monitor.Source with cheap copies of its state.
package server
