package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/stanft/stanft/monitor"
)

func (p *process) runFT(ctx context.Context, metrics *monitor.Metrics) int {
	p.log.Error("Failed to start: " + errors.New("FT not wired yet").Error())
	return exitFailure
}

func runStoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "stanft: store: not available yet")
	return exitFailure
}

func runFTCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "stanft: ft: not available yet")
	return exitFailure
}

func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "stanft: drill: not available yet")
	return exitFailure
}
