// Package drill runs a failover drill against a live stanft FT group, the
// way an on-call engineer checks that a group really fails over: it
// publishes through the real stan.go client, consumes through a durable
// subscription, triggers a failover (asks the active to step down, or waits
// while the operator kills it), and reports what a client saw: the time
// without service, the member that became active and its epoch, and the
// messages acknowledged, lost, duplicated and redelivered.
//
// A message is lost when the server acknowledged its publish and the
// durable subscriber never received it. Run returns the Report; the caller
// (`stanft drill`) exits non-zero when Report.Lost > 0.
//
// The drill publishes to a fresh channel (drill.<random>) and deletes its
// durable subscription at the end; the channel's messages stay until the
// channel limits remove them.
package drill
