package server_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/server/servertest"
	"github.com/stanft/stanft/store"
)

const clusterID = "test-cluster"

// start starts a server with test timings, optionally adjusted by mutate.
func start(t *testing.T, mutate func(*server.Config)) (*server.Server, string) {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.ClusterID = clusterID
	if mutate != nil {
		mutate(&cfg)
	}
	return servertest.StartServer(t, cfg)
}

// connect connects a stan client that is closed at the end of the test.
func connect(t *testing.T, url, id string, opts ...stan.Option) stan.Conn {
	t.Helper()
	opts = append([]stan.Option{stan.NatsURL(url)}, opts...)
	sc, err := stan.Connect(clusterID, id, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { _ = sc.Close() })
	return sc
}

// natsConn opens a raw NATS connection closed at the end of the test.
func natsConn(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitFor polls cond until it holds or the timeout expires.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// delivery is an expected message: its sequence and Redelivered flag.
type delivery struct {
	seq   uint64
	redel bool
}

// expectDeliveries receives one message per ds from ch, each within 2 s,
// and fails unless they come in that order with those flags; it acks each
// when ack is set.
func expectDeliveries(t *testing.T, ch <-chan *stan.Msg, ack bool, ds ...delivery) {
	t.Helper()
	for i, d := range ds {
		m := recv(t, ch, 2*time.Second)
		if m.Sequence != d.seq || m.Redelivered != d.redel {
			t.Fatalf("message %d: seq=%d redelivered=%v, want seq=%d redelivered=%v", i+1, m.Sequence, m.Redelivered, d.seq, d.redel)
		}
		if ack {
			_ = m.Ack()
		}
	}
}

// waitNoPending waits until channel has subs subscriptions (any number
// when subs < 0), none with a pending message.
func waitNoPending(t *testing.T, s *server.Server, channel string, subs int) {
	t.Helper()
	waitFor(t, 2*time.Second, "no pending messages on "+channel, func() bool {
		cz, _ := s.Channel(channel, true)
		for _, sz := range cz.Subscriptions {
			if sz.PendingCount != 0 {
				return false
			}
		}
		return subs < 0 || len(cz.Subscriptions) == subs
	})
}

// recv waits for one message on ch.
func recv(t *testing.T, ch <-chan *stan.Msg, timeout time.Duration) *stan.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(timeout):
		t.Fatalf("no message within %v", timeout)
		return nil
	}
}

// noMsg checks that nothing arrives on ch for d.
func noMsg(t *testing.T, ch <-chan *stan.Msg, d time.Duration) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("unexpected message seq=%d redelivered=%v", m.Sequence, m.Redelivered)
	case <-time.After(d):
	}
}

func msgChan(n int) (chan *stan.Msg, stan.MsgHandler) {
	ch := make(chan *stan.Msg, n)
	return ch, func(m *stan.Msg) { ch <- m }
}

type limitsT = store.Limits

// startWithLimits starts a server on a memory store with adjusted limits.
func startWithLimits(t *testing.T, mutate func(*store.Limits)) (*server.Server, string) {
	t.Helper()
	mcfg := memstore.DefaultConfig()
	mutate(&mcfg.Limits)
	st, err := memstore.New(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := servertest.Config(t)
	cfg.ClusterID = clusterID
	return servertest.StartServerWithStore(t, cfg, st)
}

type serverConfig = server.Config
