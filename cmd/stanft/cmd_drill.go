package main

import (
	"context"
	"fmt"
	"io"
)

// runDrill is the slot of `stanft drill ...` (failover drills; package drill
// is written separately).
func runDrill(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "stanft drill: not available in this build")
	return exitFailure
}
