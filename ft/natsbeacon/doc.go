// Package natsbeacon implements ft.Beacon over a NATS subject,
// `_STAN.ft.<cluster ID>.<group>` (the reference's FT subject, so that a
// nats-streaming-server sharing the group is detected), on a *nats.Conn
// owned by the caller. It also provides RequestStepDown, the client side
// of `stanft ft step-down`.
package natsbeacon
