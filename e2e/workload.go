package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"
)

// ClientConfig is what every workload client needs to reach the group.
type ClientConfig struct {
	ClusterID string
	NATSURL   string
	ClientID  string
}

// Connect opens a stan.go connection suited to failover tests: the NATS
// connection reconnects forever, PINGs every second with 30 allowed misses
// (a failover gap never closes the session), and publish acks time out after
// ackWait (0: the stan.go default). A lost connection is reported on lost.
func Connect(cfg ClientConfig, ackWait time.Duration, lost func(error)) (stan.Conn, error) {
	opts := []stan.Option{
		stan.NatsURL(cfg.NATSURL),
		stan.ConnectWait(5 * time.Second),
		stan.Pings(1, 30),
		stan.NatsOptions(nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond)),
		stan.SetConnectionLostHandler(func(_ stan.Conn, err error) {
			if lost != nil {
				lost(err)
			}
		}),
	}
	if ackWait > 0 {
		opts = append(opts, stan.PubAckWait(ackWait))
	}
	var sc stan.Conn
	var err error
	// A connect during a failover gap fails fast; retry for a few seconds.
	for deadline := time.Now().Add(10 * time.Second); ; {
		sc, err = stan.Connect(cfg.ClusterID, cfg.ClientID, opts...)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("e2e: stan connect %s: %w", cfg.ClientID, err)
	}
	return sc, nil
}

// Payload builds a message body "<id>|" padded with 'x' to size bytes.
func Payload(id uint64, size int) []byte {
	b := strconv.AppendUint(nil, id, 10)
	b = append(b, '|')
	for len(b) < size {
		b = append(b, 'x')
	}
	return b
}

// PayloadID parses the id of a Payload.
func PayloadID(b []byte) (uint64, error) {
	i := bytes.IndexByte(b, '|')
	if i <= 0 {
		return 0, fmt.Errorf("e2e: payload without id: %.20q", b)
	}
	return strconv.ParseUint(string(b[:i]), 10, 64)
}

// Ack is one acknowledged publish.
type Ack struct {
	ID        uint64
	FirstSent time.Time // first attempt
	Sent      time.Time // the attempt that was acknowledged
	Acked     time.Time
	Attempts  int
}

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	ClientConfig
	// Channel to publish on. Required.
	Channel string
	// Interval between new messages; 0 sends as fast as Window allows.
	Interval time.Duration
	// Window is the maximum number of publishes awaiting an ack. Default 256.
	Window int
	// AckWait is the PubAck timeout after which a publish is retried with
	// the same id. Default 200 ms.
	AckWait time.Duration
	// Size is the payload size. Default 128.
	Size int
	// Max stops sending new messages after this many ids (0: no limit).
	Max uint64
}

// Publisher publishes numbered messages asynchronously and records every
// PubAck. A publish that fails (ack timeout, error ack) is retried with the
// same id until acknowledged or the publisher is stopped, so a failover gap
// shows as a gap in the ack times and a retried message may be stored twice.
type Publisher struct {
	cfg  PublisherConfig
	conn stan.Conn

	mu       sync.Mutex
	acks     []Ack
	acked    map[uint64]bool
	inflight map[uint64]*attempt
	retries  []uint64
	errs     map[string]int
	lostErr  error
	nextID   uint64
	limit    uint64 // last id to send; 0: no limit
	noNew    bool   // set by Stop: only retries are sent

	sem    chan struct{}
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

type attempt struct {
	first, sent time.Time
	n           int
}

// StartPublisher connects and starts publishing. It is stopped in t.Cleanup.
func StartPublisher(t testing.TB, cfg PublisherConfig) *Publisher {
	t.Helper()
	if cfg.Window == 0 {
		cfg.Window = 256
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 200 * time.Millisecond
	}
	if cfg.Size == 0 {
		cfg.Size = 128
	}
	p := &Publisher{
		cfg:      cfg,
		acked:    make(map[uint64]bool),
		inflight: make(map[uint64]*attempt),
		errs:     make(map[string]int),
		sem:      make(chan struct{}, cfg.Window),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		nextID:   1,
		limit:    cfg.Max,
	}
	conn, err := Connect(cfg.ClientConfig, cfg.AckWait, func(err error) {
		p.mu.Lock()
		p.lostErr = err
		p.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	p.conn = conn
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.loop(ctx)
	t.Cleanup(func() { p.Stop(0) })
	return p
}

func (p *Publisher) loop(ctx context.Context) {
	defer close(p.done)
	var tick <-chan time.Time
	if p.cfg.Interval > 0 {
		tk := time.NewTicker(p.cfg.Interval)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		// Retries first: they are the oldest unacknowledged messages.
		p.mu.Lock()
		var id uint64
		if len(p.retries) > 0 {
			id = p.retries[0]
			p.retries = p.retries[1:]
		}
		p.mu.Unlock()
		if id == 0 {
			if p.exhausted() {
				select {
				case <-ctx.Done():
					return
				case <-p.wake:
				}
				continue
			}
			if tick != nil {
				select {
				case <-ctx.Done():
					return
				case <-tick:
				case <-p.wake:
					continue // a retry may be waiting
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case p.sem <- struct{}{}:
		}
		if id == 0 {
			p.mu.Lock()
			id = p.nextID
			p.nextID++
			p.mu.Unlock()
		}
		p.send(id)
	}
}

// exhausted reports whether every id up to the limit has been sent.
func (p *Publisher) exhausted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.noNew || (p.limit > 0 && p.nextID > p.limit)
}

func (p *Publisher) send(id uint64) {
	now := time.Now()
	p.mu.Lock()
	a := p.inflight[id]
	if a == nil {
		a = &attempt{first: now}
		p.inflight[id] = a
	}
	a.sent = now
	a.n++
	p.mu.Unlock()
	_, err := p.conn.PublishAsync(p.cfg.Channel, Payload(id, p.cfg.Size), func(_ string, err error) {
		p.onAck(id, err)
	})
	if err != nil {
		p.onAck(id, err)
		time.Sleep(20 * time.Millisecond) // closed or failing connection: do not spin
	}
}

func (p *Publisher) onAck(id uint64, err error) {
	now := time.Now()
	p.mu.Lock()
	a := p.inflight[id]
	if err == nil && a != nil {
		delete(p.inflight, id)
		if !p.acked[id] {
			p.acked[id] = true
			p.acks = append(p.acks, Ack{ID: id, FirstSent: a.first, Sent: a.sent, Acked: now, Attempts: a.n})
		}
	} else if err != nil {
		p.errs[errKey(err)]++
		p.retries = append(p.retries, id)
	}
	p.mu.Unlock()
	<-p.sem
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func errKey(err error) string {
	switch {
	case errors.Is(err, stan.ErrTimeout):
		return "timeout"
	case errors.Is(err, stan.ErrConnectionClosed):
		return "closed"
	default:
		return err.Error()
	}
}

// drainNew stops sending new ids; retries continue.
func (p *Publisher) drainNew() {
	p.mu.Lock()
	p.noNew = true
	p.mu.Unlock()
}

// Stop stops sending new messages, waits up to drain for the in-flight ones
// (and their retries) to be acknowledged, then stops and closes the
// connection. It is idempotent.
func (p *Publisher) Stop(drain time.Duration) {
	p.drainNew()
	deadline := time.Now().Add(drain)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		n := len(p.inflight)
		p.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.cancel()
	<-p.done
	if p.conn != nil {
		_ = p.conn.Close()
	}
}

// Acks returns a copy of the acknowledged publishes, in ack order.
func (p *Publisher) Acks() []Ack {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Ack(nil), p.acks...)
}

// AckCount returns how many ids are acknowledged.
func (p *Publisher) AckCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acks)
}

// Unacked returns the ids sent and never acknowledged.
func (p *Publisher) Unacked() []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]uint64, 0, len(p.inflight))
	for id := range p.inflight {
		out = append(out, id)
	}
	return out
}

// Errors returns the publish errors seen, by kind ("timeout", ...).
func (p *Publisher) Errors() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.errs))
	for k, v := range p.errs {
		out[k] = v
	}
	return out
}

// Lost returns the error that closed the STAN session, if any.
func (p *Publisher) Lost() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lostErr
}

// WaitAcks waits until at least n ids are acknowledged.
func (p *Publisher) WaitAcks(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for p.AckCount() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("e2e: %d acks after %v, want %d (errors %v)", p.AckCount(), timeout, n, p.Errors())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// FirstAckAfter returns the receive time of the first ack after t.
func (p *Publisher) FirstAckAfter(t time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.acks {
		if a.Acked.After(t) {
			return a.Acked, true
		}
	}
	return time.Time{}, false
}
