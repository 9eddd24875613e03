package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// coreInflight bounds the requests awaiting a reply, like the STAN client's
// MaxPubAcksInflight.
const coreInflight = 16384

// corePubReply measures core NATS publish-plus-reply: a responder replies to
// every message with a PubAck-sized payload; the publisher pipelines requests
// (one reply subscription, at most coreInflight outstanding). It returns the
// rate in messages per second.
func corePubReply(url string, n, size int) (float64, error) {
	resp, err := nats.Connect(url)
	if err != nil {
		return 0, fmt.Errorf("bench: core responder connect: %w", err)
	}
	defer resp.Close()
	pub, err := nats.Connect(url)
	if err != nil {
		return 0, fmt.Errorf("bench: core publisher connect: %w", err)
	}
	defer pub.Close()

	ack := make([]byte, 30) // a marshalled PubAck with a 22-byte guid is ~26 bytes
	if _, err := resp.Subscribe("bench.core", func(m *nats.Msg) { _ = m.Respond(ack) }); err != nil {
		return 0, fmt.Errorf("bench: core responder: %w", err)
	}
	if err := resp.Flush(); err != nil {
		return 0, err
	}
	inbox := nats.NewInbox()
	sem := make(chan struct{}, coreInflight)
	done := make(chan struct{})
	var got atomic.Int64
	sub, err := pub.Subscribe(inbox, func(*nats.Msg) {
		<-sem
		if got.Add(1) == int64(n) {
			close(done)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("bench: core reply sub: %w", err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := pub.Flush(); err != nil {
		return 0, err
	}
	data := make([]byte, size)
	start := time.Now()
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		if err := pub.PublishRequest("bench.core", inbox, data); err != nil {
			return 0, fmt.Errorf("bench: core publish: %w", err)
		}
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("bench: core: %d of %d replies after 2 min", got.Load(), n)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
