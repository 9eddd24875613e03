// Package server is the STAN protocol engine of stanft: it answers the
// requests of NATS Streaming clients (stan.go) on the subjects of SPEC §1,
// stores messages and subscription state through a store.Store, and
// delivers messages with acks, redelivery, durables and queue groups.
//
// Lifecycle: New validates the Config and does no I/O. Activate connects to
// NATS, recovers the store and subscribes the STAN subjects; it returns once
// the server serves clients. Deactivate stops serving at once and flushes
// the store without closing it (the caller closes the store, then releases
// the FT lock). Close deactivates and closes the NATS connections.
//
// Concurrency: NATS callbacks parse requests. Publishes go through one
// storage loop (ioLoop) that stores a batch, flushes each touched channel
// once, delivers, then sends the PubAcks. Each channel has a mutex that
// guards its subscriptions and serialises its store calls; the server mutex
// guards the client and channel registries (lock order: server, channel,
// client). Deliveries, PubAcks and subscription responses share one NATS
// connection so a subscription response precedes its first message.
//
// The Server implements monitor.Source with cheap copies of its state.
package server
