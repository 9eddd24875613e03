package main

import (
	"context"
	"io"

	"github.com/stanft/stanft/drill"
)

// runDrill is `stanft drill ...`: a failover drill against a live FT group
// (package drill; exit 0 ok, 1 acknowledged messages lost, 2 could not run).
func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return drill.Command(ctx, args, stdout, stderr)
}
