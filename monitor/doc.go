// Package monitor serves stanft's monitoring port: the NATS Streaming
// reference's /streaming/* JSON (byte-compatible, SPEC §9), /healthz and
// /readyz for Kubernetes, /metrics for Prometheus, and, for every other
// path, the embedded NATS server's own endpoints (/varz, /connz, …).
//
// The monitor is a read-only consumer of a narrow Source (implemented by
// the server package). JSON documents and the nss_* Prometheus series are
// both built from Source snapshots taken at request or scrape time, so the
// two always agree and nothing is counted twice. stanft's own instruments
// (FT state, epoch, failovers, time-to-active, lock and fencing checks,
// fsync and publish-ack latency) live in *Metrics, which the ft, server and
// filestore packages feed through their own small interfaces, never
// importing Prometheus or this package.
//
// Differences from the reference, on purpose (SPEC §0 D8):
//   - isFTActive is 200 only when the Source reports FT_ACTIVE, which the
//     server does only once it has recovered and serves clients;
//   - a JSONP callback must be a dotted JavaScript identifier (400
//     otherwise), where the reference echoed any text into a script;
//   - /healthz (ours, replacing the NATS one), /readyz and /metrics exist.
//
// Wiring, in cmd/stanft:
//
//	ins := monitor.NewMetrics() // before the server, ft and filestore, which take it as their Metrics
//	mon, err := monitor.New(monitor.Config{
//		Source:      srv,                     // *server.Server implements Source
//		Health:      health,                  // Live/Ready from the elector and server
//		NATSHandler: monitor.NATSHandler(ns), // nil with -ns (no embedded NATS)
//		Logger:      log,
//		Metrics:     ins,
//	})
//	// -m/-ms: the embedded NATS server gets HTTPPort/HTTPSPort 0; we own the ports.
//	err = mon.Start("0.0.0.0:8222", "", nil) // bind errors here
//	defer mon.Shutdown(shutdownCtx)          // graceful, waits for in-flight requests
//
// or, blocking until ctx is done: err = mon.Serve(ctx, httpAddr, httpsAddr, tlsCfg).
package monitor
