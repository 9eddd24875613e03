package natsbeacon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"

	"github.com/stanft/stanft/ft"
)

// Defaults.
const (
	// DefaultBuffer is the receive buffer: heartbeats of a group are a few
	// per second, so 64 absorbs any burst while the elector is busy.
	DefaultBuffer = 64
	// defaultFlushTimeout bounds Flush when ctx has no deadline.
	defaultFlushTimeout = 2 * time.Second
)

// Subject returns the FT subject of a group.
func Subject(clusterID, group string) string {
	return "_STAN.ft." + clusterID + "." + group
}

// Config configures a Beacon.
type Config struct {
	// Conn is the NATS connection to use; owned by the caller, who closes
	// it after the Beacon. Required. Its reconnect options decide how
	// outages are ridden out; the Beacon reports Connected from it.
	Conn *nats.Conn
	// ClusterID and Group name the subject. Required, without spaces or
	// wildcards.
	ClusterID, Group string
	// Buffer is the receive buffer size. Default 64.
	Buffer int
	// Logger: default null logger.
	Logger hclog.Logger
}

// DefaultConfig returns the defaults; Conn, ClusterID and Group must be set.
func DefaultConfig() Config { return Config{Buffer: DefaultBuffer} }

// Validate reports whether cfg is usable.
func (c Config) Validate() error {
	switch {
	case c.Conn == nil:
		return errors.New("natsbeacon: Conn is required")
	case !validToken(c.ClusterID):
		return fmt.Errorf("natsbeacon: invalid cluster ID %q", c.ClusterID)
	case !validToken(c.Group):
		return fmt.Errorf("natsbeacon: invalid FT group %q", c.Group)
	case c.Buffer <= 0:
		return fmt.Errorf("natsbeacon: Buffer must be > 0, got %d", c.Buffer)
	}
	return nil
}

func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n*>")
}

// Beacon is the NATS ft.Beacon. Create with New; Close before closing the
// connection.
type Beacon struct {
	nc      *nats.Conn
	subject string
	log     hclog.Logger
	sub     *nats.Subscription
	dropped atomic.Uint64

	mu     sync.Mutex // guards ch against send-after-close
	ch     chan []byte
	closed bool
}

var _ ft.Beacon = (*Beacon)(nil)

// New subscribes to the group's subject and waits (up to 2s) until the
// server has registered the subscription.
func New(cfg Config) (*Beacon, error) {
	if cfg.Buffer == 0 {
		cfg.Buffer = DefaultBuffer
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	b := &Beacon{
		nc:      cfg.Conn,
		subject: Subject(cfg.ClusterID, cfg.Group),
		log:     log.Named("ft-beacon"),
		ch:      make(chan []byte, cfg.Buffer),
	}
	sub, err := b.nc.Subscribe(b.subject, b.receive)
	if err != nil {
		return nil, fmt.Errorf("natsbeacon: subscribe %s: %w", b.subject, err)
	}
	b.sub = sub
	if b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(defaultFlushTimeout); err != nil {
			b.log.Warn("flush after subscribe", "subject", b.subject, "error", err)
		}
	}
	return b, nil
}

// Subject returns the subject in use.
func (b *Beacon) Subject() string { return b.subject }

// Dropped counts messages dropped because the consumer was slow.
func (b *Beacon) Dropped() uint64 { return b.dropped.Load() }

func (b *Beacon) receive(m *nats.Msg) {
	data := append([]byte(nil), m.Data...)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	select {
	case b.ch <- data:
	default:
		b.dropped.Add(1)
	}
}

// Publish implements ft.Beacon. Messages are not buffered while
// disconnected: a stale heartbeat is worse than none.
func (b *Beacon) Publish(_ context.Context, msg []byte) error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("natsbeacon: publish %s: %w", b.subject, ft.ErrNotConnected)
	}
	if err := b.nc.Publish(b.subject, msg); err != nil {
		return fmt.Errorf("natsbeacon: publish %s: %w", b.subject, err)
	}
	return nil
}

// Flush implements ft.Beacon (a PING/PONG round trip with the server).
func (b *Beacon) Flush(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("natsbeacon: flush: %w", ft.ErrNotConnected)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultFlushTimeout)
		defer cancel()
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("natsbeacon: flush: %w", err)
	}
	return nil
}

// Messages implements ft.Beacon.
func (b *Beacon) Messages() <-chan []byte { return b.ch }

// Connected implements ft.Beacon.
func (b *Beacon) Connected() bool { return b.nc.IsConnected() }

// Close unsubscribes and closes the Messages channel. It does not close
// the connection.
func (b *Beacon) Close() error {
	err := b.sub.Unsubscribe()
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
		err = nil
	}
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.ch)
	}
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("natsbeacon: unsubscribe %s: %w", b.subject, err)
	}
	return nil
}
