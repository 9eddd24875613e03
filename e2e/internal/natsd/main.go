// Command natsd runs a plain NATS server for the e2e tests, as its own
// process, so that stopping or killing a stanft member never touches the
// NATS fabric its clients use.
//
//	natsd -a 127.0.0.1 -p 4222
//
// It exits 0 on SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("natsd", flag.ContinueOnError)
	host := fs.String("a", "127.0.0.1", "listen address")
	port := fs.Int("p", 4222, "client port")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 1
	}
	// Before anything else, so a SIGTERM sent right after "ready" is handled.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host:       *host,
		Port:       *port,
		NoSigs:     true,
		MaxPayload: 1 << 20,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "natsd: %v\n", err)
		return 1
	}
	ns.ConfigureLogger()
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		fmt.Fprintln(os.Stderr, "natsd: not ready after 10s")
		return 1
	}
	fmt.Printf("natsd: ready on %s\n", ns.ClientURL())
	<-sig
	ns.Shutdown()
	ns.WaitForShutdown()
	return 0
}
