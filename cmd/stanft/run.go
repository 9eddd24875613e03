package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// run is the whole program: it dispatches the subcommands, or parses the
// options and runs the server until ctx is cancelled. It returns the exit
// code (SPEC §10.4, D13).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "store":
			return runStoreCmd(ctx, args[1:], stdout, stderr)
		case "healthcheck":
			return runHealthcheck(ctx, args[1:], stdout, stderr)
		case "ft":
			return runFTCmd(ctx, args[1:], stdout, stderr)
		case "drill":
			return runDrill(ctx, args[1:], stdout, stderr)
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGHUP)
	defer signal.Stop(sigs)
	return runServer(ctx, serverEnv{Args: args, Stdout: stdout, Stderr: stderr, Signals: sigs})
}

// serverEnv is what runServer needs from its caller; tests build it
// directly to inject signals.
type serverEnv struct {
	Args   []string
	Stdout io.Writer
	Stderr io.Writer
	// Signals delivers SIGUSR1 (reopen the log file) and SIGHUP (reload the
	// embedded NATS configuration).
	Signals <-chan os.Signal
	// Started, if set, is called once the server is running (standalone:
	// active; FT: the elector runs), with the embedded NATS client URL ("" with
	// -ns). For tests.
	Started func(natsURL string)
}

// runServer parses the options and runs the server until ctx is done.
func runServer(ctx context.Context, env serverEnv) int {
	o, err := parseOptions(env.Args, env.Stdout)
	if errors.Is(err, errExit0) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "stanft: %v\n", oneLine(err))
		return exitFailure
	}
	if o.NATS.CheckConfig {
		fmt.Fprintf(env.Stdout, "stanft: configuration is valid\n")
		return exitOK
	}
	logs, err := newLogging(o, env.Stderr)
	if err != nil {
		fmt.Fprintf(env.Stderr, "stanft: %v\n", oneLine(err))
		return exitFailure
	}
	defer logs.Close()
	return serve(ctx, o, logs, env)
}

// oneLine keeps an error on one line (NATS configuration errors may hold
// several).
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
