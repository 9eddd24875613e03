package server_test

import (
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/server/servertest"
)

func benchServer(b *testing.B) string {
	cfg := servertest.Config(b)
	cfg.ClusterID = clusterID
	cfg.Logger = hclog.NewNullLogger()
	_, url := servertest.StartServer(b, cfg)
	return url
}

// BenchmarkPublishAsync: one stan.go publisher, PublishAsync of 128 B
// messages with the default MaxPubAcksInflight, until the last PubAck.
func BenchmarkPublishAsync(b *testing.B) {
	url := benchServer(b)
	sc, err := stan.Connect(clusterID, "bench", stan.NatsURL(url))
	if err != nil {
		b.Fatal(err)
	}
	defer sc.Close()
	payload := make([]byte, 128)
	var wg sync.WaitGroup
	ah := func(string, error) { wg.Done() }
	b.SetBytes(128)
	b.ResetTimer()
	wg.Add(b.N)
	for i := 0; i < b.N; i++ {
		if _, err := sc.PublishAsync("bench", payload, ah); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}

// BenchmarkPubSub: one publisher and one auto-ack subscriber, until the
// last delivery.
func BenchmarkPubSub(b *testing.B) {
	url := benchServer(b)
	sc, err := stan.Connect(clusterID, "bench", stan.NatsURL(url))
	if err != nil {
		b.Fatal(err)
	}
	defer sc.Close()
	sub, err := stan.Connect(clusterID, "benchsub", stan.NatsURL(url))
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	done := make(chan struct{})
	n := 0
	if _, err := sub.Subscribe("bench", func(*stan.Msg) {
		n++
		if n == b.N {
			close(done)
		}
	}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 128)
	ah := func(string, error) {}
	b.SetBytes(128)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sc.PublishAsync("bench", payload, ah); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}

// BenchmarkCoreNATSRequestReply is the baseline: pipelined publish with a
// reply subject and a responder replying to each message.
func BenchmarkCoreNATSRequestReply(b *testing.B) {
	url := servertest.StartNATS(b)
	rnc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer rnc.Close()
	reply := make([]byte, 30)
	if _, err := rnc.Subscribe("req", func(m *nats.Msg) { _ = m.Respond(reply) }); err != nil {
		b.Fatal(err)
	}
	_ = rnc.Flush()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	inbox := nats.NewInbox()
	sem := make(chan struct{}, 16384)
	var wg sync.WaitGroup
	if _, err := nc.Subscribe(inbox, func(*nats.Msg) { <-sem; wg.Done() }); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 128)
	b.SetBytes(128)
	b.ResetTimer()
	wg.Add(b.N)
	for i := 0; i < b.N; i++ {
		sem <- struct{}{}
		_ = nc.PublishRequest("req", inbox, payload)
	}
	wg.Wait()
}
