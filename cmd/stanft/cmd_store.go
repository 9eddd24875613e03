package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/stanft/stanft/filestore"
)

// runStoreCmd is `stanft store verify [--file_crc_poly N] DIR` (SPEC D10): it
// reports a datastore's health without starting a server. Exit 0 when
// healthy (problems repaired automatically at the next start included), 1
// when a server would refuse the datastore or it cannot be read.
func runStoreCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "usage: stanft store verify DIR"
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, usage)
		return exitFailure
	}
	fs := flag.NewFlagSet("stanft store verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(stderr, "stanft store verify: %v\n", err)
		return exitFailure
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, usage)
		return exitFailure
	}
	report, err := filestore.Verify(fs.Arg(0), filestore.DefaultConfig())
	if err != nil {
		fmt.Fprintf(stderr, "stanft store verify: %v\n", err)
		return exitFailure
	}
	fmt.Fprint(stdout, report.String())
	if !report.Healthy() {
		return exitFailure
	}
	return exitOK
}
