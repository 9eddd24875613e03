package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

func serve(ctx context.Context, o *options, logs *logging, env serverEnv) int {
	logs.root.Error("Failed to start: " + errors.New("not wired yet").Error())
	return exitFailure
}

func runStoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "stanft: store: not available yet")
	return exitFailure
}

func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "stanft: healthcheck: not available yet")
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
