package natsbeacon_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/stanft/stanft/ft"
	"github.com/stanft/stanft/ft/natsbeacon"
)

// startNATS starts an embedded NATS server on a random loopback port (or
// on port, if > 0).
func startNATS(t testing.TB, port int) *natsserver.Server {
	t.Helper()
	if port <= 0 {
		port = -1
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectBufSize(-1), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func newBeacon(t testing.TB, nc *nats.Conn) *natsbeacon.Beacon {
	t.Helper()
	cfg := natsbeacon.DefaultConfig()
	cfg.Conn, cfg.ClusterID, cfg.Group = nc, "test-cluster", "grp"
	b, err := natsbeacon.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func receive(t *testing.T, b *natsbeacon.Beacon) []byte {
	t.Helper()
	select {
	case m := <-b.Messages():
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return nil
	}
}

// eventually polls cond every 5ms for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func TestPublishReachesEveryMember(t *testing.T) {
	ns := startNATS(t, 0)
	nc1, nc2 := connect(t, ns.ClientURL()), connect(t, ns.ClientURL())
	b1, b2 := newBeacon(t, nc1), newBeacon(t, nc2)
	if b1.Subject() != "_STAN.ft.test-cluster.grp" {
		t.Fatalf("subject = %q", b1.Subject())
	}
	raw, err := nc2.SubscribeSync(b1.Subject())
	if err != nil {
		t.Fatal(err)
	}
	if err := nc2.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if !b1.Connected() {
		t.Fatal("not connected")
	}
	if err := b1.Publish(ctx, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := b1.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*natsbeacon.Beacon{b1, b2} {
		if got := receive(t, b); string(got) != "one" {
			t.Fatalf("got %q", got)
		}
	}
	if m, err := raw.NextMsg(5 * time.Second); err != nil || string(m.Data) != "one" {
		t.Fatalf("raw subscriber: %v, %v", m, err)
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-b2.Messages(); ok {
		t.Fatal("Messages not closed by Close")
	}
	if err := b2.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestSlowConsumerDropsInsteadOfBlocking(t *testing.T) {
	ns := startNATS(t, 0)
	nc := connect(t, ns.ClientURL())
	cfg := natsbeacon.DefaultConfig()
	cfg.Conn, cfg.ClusterID, cfg.Group, cfg.Buffer = nc, "c", "g", 2
	b, err := natsbeacon.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 10 {
		if err := b.Publish(context.Background(), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if !eventually(5*time.Second, func() bool { return b.Dropped() == 8 }) {
		t.Fatalf("dropped = %d, want 8", b.Dropped())
	}
}

func TestDisconnectAndReconnect(t *testing.T) {
	ns := startNATS(t, 0)
	url := ns.ClientURL()
	nc := connect(t, url)
	b := newBeacon(t, nc)
	var portNum int
	if _, err := fmt.Sscanf(url, "nats://127.0.0.1:%d", &portNum); err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	ns.Shutdown()
	if !eventually(5*time.Second, func() bool { return !b.Connected() }) {
		t.Fatal("still connected after the server stopped")
	}
	if err := b.Publish(context.Background(), []byte("x")); !errors.Is(err, ft.ErrNotConnected) {
		t.Fatalf("Publish while disconnected = %v", err)
	}
	if err := b.Flush(context.Background()); !errors.Is(err, ft.ErrNotConnected) {
		t.Fatalf("Flush while disconnected = %v", err)
	}
	startNATS(t, portNum)
	if !eventually(10*time.Second, b.Connected) {
		t.Fatal("did not reconnect")
	}
	// The subscription is re-established after the reconnect.
	if !eventually(5*time.Second, func() bool {
		_ = b.Publish(context.Background(), []byte("back"))
		select {
		case m := <-b.Messages():
			return string(m) == "back"
		case <-time.After(50 * time.Millisecond):
			return false
		}
	}) {
		t.Fatal("no message after reconnect")
	}
}

func TestConfigValidation(t *testing.T) {
	ns := startNATS(t, 0)
	nc := connect(t, ns.ClientURL())
	for name, cfg := range map[string]natsbeacon.Config{
		"no conn":     {ClusterID: "c", Group: "g"},
		"no cluster":  {Conn: nc, Group: "g"},
		"no group":    {Conn: nc, ClusterID: "c"},
		"wildcard":    {Conn: nc, ClusterID: "c", Group: "*"},
		"space":       {Conn: nc, ClusterID: "a b", Group: "g"},
		"neg. buffer": {Conn: nc, ClusterID: "c", Group: "g", Buffer: -1},
	} {
		if _, err := natsbeacon.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}
