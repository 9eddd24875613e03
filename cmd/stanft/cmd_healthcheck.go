package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/stanft/stanft/monitor"
)

// Default probe URLs of `stanft healthcheck` (the default monitoring port).
const (
	defaultHealthURL = "http://127.0.0.1:8222/healthz"
	defaultReadyURL  = "http://127.0.0.1:8222/readyz"
)

// runHealthcheck is `stanft healthcheck [--ready] [--timeout D] [URL]`: it
// GETs the liveness (or, with --ready, readiness) endpoint and exits 0 on a
// 2xx answer, 1 otherwise. It exists because a static image has no curl.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stanft healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ready := fs.Bool("ready", false, "probe /readyz instead of /healthz")
	timeout := fs.Duration("timeout", 5*time.Second, "timeout of the whole probe")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "stanft healthcheck: %v\n", err)
		fmt.Fprintln(stderr, "usage: stanft healthcheck [--ready] [--timeout 5s] [URL]")
		return exitFailure
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "stanft healthcheck: at most one URL")
		return exitFailure
	}
	url := defaultHealthURL
	if *ready {
		url = defaultReadyURL
	}
	if fs.NArg() == 1 {
		url = fs.Arg(0)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := monitor.Probe(ctx, url); err != nil {
		fmt.Fprintf(stderr, "stanft healthcheck: %s: %v\n", url, err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "stanft healthcheck: %s: ok\n", url)
	return exitOK
}
