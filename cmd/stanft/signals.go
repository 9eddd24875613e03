package main

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// shutdownSignal is the cause main gives the context when a shutdown signal
// arrives, so that run can pick the exit code (SPEC §10.4).
type shutdownSignal struct{ sig os.Signal }

func (s shutdownSignal) Error() string { return s.sig.String() + " signal received" }

// Exit codes (SPEC §10.4, D13).
const (
	exitOK      = 0
	exitFailure = 1
	exitSIGTERM = 143
)

// shutdownExitCode is the exit code of a graceful shutdown caused by ctx:
// 143 for SIGTERM, 0 otherwise (SIGINT, or a cancelled context).
func shutdownExitCode(ctx context.Context) int {
	var s shutdownSignal
	if errors.As(context.Cause(ctx), &s) && s.sig == syscall.SIGTERM {
		return exitSIGTERM
	}
	return exitOK
}
