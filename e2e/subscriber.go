package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/stan.go"
)

// Delivery is one message received by a Subscriber.
type Delivery struct {
	Seq         uint64
	ID          uint64
	Redelivered bool
	At          time.Time
}

// SubscriberConfig configures a Subscriber.
type SubscriberConfig struct {
	ClientConfig
	// Channel to subscribe to. Required.
	Channel string
	// Durable is the durable name; "" for a plain subscription.
	Durable string
	// Queue is the queue group; "" for a plain subscription.
	Queue string
	// StartSeq starts at this sequence when > 0 (a durable that exists
	// resumes at its stored position whatever the start option).
	StartSeq uint64
	// AckWait is the redelivery timeout. Default 2 s.
	AckWait time.Duration
	// MaxInflight is the subscription's max in flight. Default 1024.
	MaxInflight int
	// AckDelay delays every ack (a slow consumer); 0 acks at once.
	AckDelay time.Duration
}

// Subscriber is a manual-ack subscription that records every delivery and
// acknowledges it.
type Subscriber struct {
	cfg  SubscriberConfig
	conn stan.Conn
	sub  stan.Subscription

	mu         sync.Mutex
	deliveries []Delivery
	seen       map[uint64]bool // ids
	lostErr    error
	closed     bool
	holding    bool        // acks are deferred (HoldAcks)
	held       []*stan.Msg // deferred acks
}

// StartSubscriber connects and subscribes; closed (not unsubscribed) in
// t.Cleanup.
func StartSubscriber(t testing.TB, cfg SubscriberConfig) *Subscriber {
	t.Helper()
	s, err := NewSubscriber(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// NewSubscriber connects and subscribes; the caller must Close it.
func NewSubscriber(cfg SubscriberConfig) (*Subscriber, error) {
	if cfg.AckWait == 0 {
		cfg.AckWait = 2 * time.Second
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = 1024
	}
	s := &Subscriber{cfg: cfg, seen: make(map[uint64]bool)}
	conn, err := Connect(cfg.ClientConfig, 0, func(err error) {
		s.mu.Lock()
		s.lostErr = err
		s.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	opts := []stan.SubscriptionOption{
		stan.SetManualAckMode(),
		stan.AckWait(cfg.AckWait),
		stan.MaxInflight(cfg.MaxInflight),
	}
	if cfg.StartSeq > 0 {
		opts = append(opts, stan.StartAtSequence(cfg.StartSeq))
	} else {
		opts = append(opts, stan.DeliverAllAvailable())
	}
	if cfg.Durable != "" {
		opts = append(opts, stan.DurableName(cfg.Durable))
	}
	var sub stan.Subscription
	for deadline := time.Now().Add(10 * time.Second); ; {
		if cfg.Queue != "" {
			sub, err = conn.QueueSubscribe(cfg.Channel, cfg.Queue, s.onMsg, opts...)
		} else {
			sub, err = conn.Subscribe(cfg.Channel, s.onMsg, opts...)
		}
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("e2e: subscribe %s: %w", cfg.Channel, err)
	}
	s.conn, s.sub = conn, sub
	return s, nil
}

func (s *Subscriber) onMsg(m *stan.Msg) {
	id, err := PayloadID(m.Data)
	d := Delivery{Seq: m.Sequence, ID: id, Redelivered: m.Redelivered, At: time.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return // closing: neither recorded nor acknowledged
	}
	if err == nil {
		s.deliveries = append(s.deliveries, d)
		s.seen[id] = true
	}
	if s.holding {
		s.held = append(s.held, m)
		return
	}
	if s.cfg.AckDelay > 0 {
		time.AfterFunc(s.cfg.AckDelay, func() { _ = m.Ack() })
		return
	}
	// Acked under mu: once Close holds it, every recorded delivery has
	// been acknowledged before the close request goes out.
	_ = m.Ack()
}

// HoldAcks defers every ack until ReleaseAcks (a consumer that stops
// acknowledging for a while).
func (s *Subscriber) HoldAcks() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holding = true
}

// ReleaseAcks sends the deferred acks and acks at once again.
func (s *Subscriber) ReleaseAcks() {
	s.mu.Lock()
	held := s.held
	s.held, s.holding = nil, false
	s.mu.Unlock()
	for _, m := range held {
		_ = m.Ack()
	}
}

// Close closes the subscription (a durable keeps its position) and the
// connection. Idempotent.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var err error
	if s.sub != nil {
		err = s.sub.Close()
	}
	if cerr := s.conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("e2e: close subscriber %s: %w", s.cfg.ClientID, err)
	}
	return nil
}

// Deliveries returns a copy of the deliveries, in arrival order.
func (s *Subscriber) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// Lost returns the error that closed the STAN session, if any.
func (s *Subscriber) Lost() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lostErr
}

// Seen reports whether id has been delivered.
func (s *Subscriber) Seen(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[id]
}

// WaitIDs waits until every id in ids has been delivered.
func (s *Subscriber) WaitIDs(ids []uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		missing := 0
		var first uint64
		for _, id := range ids {
			if !s.seen[id] {
				if missing == 0 {
					first = id
				}
				missing++
			}
		}
		s.mu.Unlock()
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("e2e: %s: %d of %d ids not delivered after %v (first %d)", s.cfg.ClientID, missing, len(ids), timeout, first)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitSeq waits until a delivery with sequence >= seq arrived.
func (s *Subscriber) WaitSeq(seq uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		var max uint64
		for _, d := range s.deliveries {
			if d.Seq > max {
				max = d.Seq
			}
		}
		s.mu.Unlock()
		if max >= seq {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("e2e: %s: highest sequence %d after %v, want %d", s.cfg.ClientID, max, timeout, seq)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadChannel reads a channel from sequence 1 with a fresh plain
// subscription until a message with sequence >= last arrived, and returns the
// deliveries.
func ReadChannel(cfg ClientConfig, channel string, last uint64, timeout time.Duration) ([]Delivery, error) {
	s, err := NewSubscriber(SubscriberConfig{ClientConfig: cfg, Channel: channel, MaxInflight: 8192, AckWait: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.WaitSeq(last, timeout); err != nil {
		return s.Deliveries(), err
	}
	return s.Deliveries(), nil
}
