package main

import (
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/nats-io/stan.go"
)

var clientSeq atomic.Int64

func connect(url, cid string) (stan.Conn, error) {
	id := fmt.Sprintf("bench-%d", clientSeq.Add(1))
	sc, err := stan.Connect(cid, id, stan.NatsURL(url), stan.ConnectWait(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("bench: stan connect: %w", err)
	}
	return sc, nil
}

// asyncPublish publishes n messages of size bytes with PublishAsync (default
// MaxPubAcksInflight) and returns the rate once every ack arrived.
func asyncPublish(url, cid, channel string, n, size int) (float64, error) {
	sc, err := connect(url, cid)
	if err != nil {
		return 0, err
	}
	defer sc.Close()
	return publishAll(sc, channel, n, size)
}

func publishAll(sc stan.Conn, channel string, n, size int) (float64, error) {
	data := make([]byte, size)
	done := make(chan struct{})
	var acked, failed atomic.Int64
	ah := func(_ string, err error) {
		if err != nil {
			failed.Add(1)
		}
		if acked.Add(1) == int64(n) {
			close(done)
		}
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := sc.PublishAsync(channel, data, ah); err != nil {
			return 0, fmt.Errorf("bench: publish: %w", err)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("bench: %d of %d acks after 5 min", acked.Load(), n)
	}
	rate := float64(n) / time.Since(start).Seconds()
	if f := failed.Load(); f > 0 {
		return rate, fmt.Errorf("bench: %d of %d publishes failed", f, n)
	}
	return rate, nil
}

// pubSub runs one async publisher and one subscriber (auto ack) on a fresh
// channel and returns the end-to-end rate: n messages from the first publish
// to the last delivery.
func pubSub(url, cid, channel string, n, size int) (float64, error) {
	subc, err := connect(url, cid)
	if err != nil {
		return 0, err
	}
	defer subc.Close()
	done := make(chan struct{})
	var got atomic.Int64
	sub, err := subc.Subscribe(channel, func(*stan.Msg) {
		if got.Add(1) == int64(n) {
			close(done)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("bench: subscribe: %w", err)
	}
	defer sub.Unsubscribe()
	pubc, err := connect(url, cid)
	if err != nil {
		return 0, err
	}
	defer pubc.Close()
	start := time.Now()
	if _, err := publishAll(pubc, channel, n, size); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("bench: %d of %d delivered after 5 min", got.Load(), n)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// syncLatency publishes n messages one at a time and returns p50 and p99 of
// the publish-to-ack time.
func syncLatency(url, cid, channel string, n, size int) (p50, p99 time.Duration, err error) {
	sc, err := connect(url, cid)
	if err != nil {
		return 0, 0, err
	}
	defer sc.Close()
	data := make([]byte, size)
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := sc.Publish(channel, data); err != nil {
			return 0, 0, fmt.Errorf("bench: sync publish: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return percentile(lat, 0.50), percentile(lat, 0.99), nil
}

func percentile(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := int(p*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// median returns the median of rates.
func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
