package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { cancel(shutdownSignal{sig: <-sigs}) }()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
