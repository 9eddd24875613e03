// Package e2e tests stanft as operators run it: real binaries, a real NATS
// server in its own process, a shared FILE datastore, and faults injected from
// outside (signals, a TCP proxy between a member and NATS, the lock file
// replaced on disk).
//
// The framework (this package's non-test files) is:
//   - Process: one child process with Start/Stop/Kill/Pause/Resume/Restart,
//     WaitLog and ExitCode; its output is captured to a file and dumped when
//     the test fails; every process is killed in t.Cleanup.
//   - Group: N stanft members sharing one --dir, -cid and --ft_group, each with
//     its own monitoring port and an optional Proxy in front of NATS.
//   - Workload: a stan.go publisher that records every PubAck (retrying
//     timed-out publishes with the same payload ID) and a durable subscriber
//     that records every delivery.
//   - StateWatcher: polls /streaming/serverz of every member at a short
//     interval and records who reports FT_ACTIVE.
//   - Check*: invariants on the recorded history: no acknowledged message
//     lost, per-channel order, durable position kept, one active at a time.
//
// The tests themselves are behind the build tag "e2e" so that go test ./...
// stays fast:
//
//	go test -tags e2e -count=1 ./e2e
//
// See README.md for the scenarios and the failover benchmark.
package e2e
