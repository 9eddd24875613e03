// Command stanft is a fault-tolerant, drop-in NATS Streaming (STAN) server.
//
// Usage:
//
//	stanft [options]                         run a server (see -h)
//	stanft store verify DIR                  check a FILE datastore without starting a server
//	stanft healthcheck [--ready] [URL]       probe /healthz (or /readyz); exit 0 or 1
//	stanft ft step-down --nats URL -cid C --ft_group G
//	                                         ask the active member of an FT group to hand over
//	stanft drill ...                         failover drill against a live FT group
//
// Options come from the command line (the streaming flags and the embedded
// NATS server's flags share one flag set; -x and --x are equivalent) and
// from configuration files: -sc alone configures both streaming and NATS, -c
// alone too, both give each its own file. Precedence: defaults < file <
// flags given on the command line. Out-of-scope reference modes (Raft
// clustering, partitioning, the SQL store, encryption) are rejected with
// one line naming the feature.
//
// This is the only package that knows the concrete types: it builds the
// store (memstore, or filestore), the embedded NATS server, the STAN engine
// (server), the monitor, and in FT mode (--ft_group, FILE store) the elector
// with its file lock and NATS beacon, whose callbacks open the datastore
// (fenced by the elector), activate the server, and undo both.
//
// Exit codes: 0 after SIGINT, 143 after SIGTERM, 1 for a bad flag or
// configuration value (one line on stderr), a startup failure ("Failed to
// start: ...") or a fenced FT member. SIGUSR1 reopens the -l log file; SIGHUP
// reloads the embedded NATS server's configuration file.
package main
