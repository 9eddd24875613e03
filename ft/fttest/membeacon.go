package fttest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stanft/stanft/ft"
)

// beaconBuffer is each MemBeacon's receive buffer; overflow drops, as the
// ft.Beacon contract allows.
const beaconBuffer = 64

// Bus is an in-memory message bus for MemBeacons with fault hooks: Drop
// (lose every message), Delay (deliver late), Partition (cut one member
// off: it is disconnected, sends fail, it receives nothing), Heal, and
// Inject (raw bytes from an outsider).
type Bus struct {
	mu       sync.Mutex
	beacons  []*MemBeacon
	dropping bool
	delay    time.Duration
	cut      map[string]bool
	sent     int
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{cut: make(map[string]bool)} }

// Beacon attaches a new member called id.
func (b *Bus) Beacon(id string) *MemBeacon {
	mb := &MemBeacon{bus: b, id: id, ch: make(chan []byte, beaconBuffer)}
	b.mu.Lock()
	b.beacons = append(b.beacons, mb)
	b.mu.Unlock()
	return mb
}

// Drop makes the bus lose (on=true) or carry (false) every message.
func (b *Bus) Drop(on bool) {
	b.mu.Lock()
	b.dropping = on
	b.mu.Unlock()
}

// Delay delivers every later message d after it is published.
func (b *Bus) Delay(d time.Duration) {
	b.mu.Lock()
	b.delay = d
	b.mu.Unlock()
}

// Partition disconnects member id from the bus.
func (b *Bus) Partition(id string) {
	b.mu.Lock()
	b.cut[id] = true
	b.mu.Unlock()
}

// Heal reconnects every member and stops dropping and delaying.
func (b *Bus) Heal() {
	b.mu.Lock()
	clear(b.cut)
	b.dropping, b.delay = false, 0
	b.mu.Unlock()
}

// Sent counts messages published through the bus (Inject included).
func (b *Bus) Sent() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sent
}

// Inject delivers raw bytes to every connected member, as an outsider
// publishing on the FT subject would.
func (b *Bus) Inject(raw []byte) { b.send("", raw) }

func (b *Bus) send(from string, msg []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent++
	if b.dropping {
		return
	}
	for _, mb := range b.beacons {
		if b.cut[mb.id] {
			continue
		}
		data := append([]byte(nil), msg...)
		if b.delay > 0 {
			time.AfterFunc(b.delay, func() { mb.deliver(data) })
			continue
		}
		mb.deliver(data)
	}
}

func (b *Bus) connected(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.cut[id]
}

// MemBeacon is one member's ft.Beacon on a Bus.
type MemBeacon struct {
	bus *Bus
	id  string

	mu     sync.Mutex
	ch     chan []byte
	closed bool
}

var _ ft.Beacon = (*MemBeacon)(nil)

// Publish implements ft.Beacon.
func (mb *MemBeacon) Publish(_ context.Context, msg []byte) error {
	if !mb.bus.connected(mb.id) {
		return fmt.Errorf("membeacon %s: %w", mb.id, ft.ErrNotConnected)
	}
	mb.bus.send(mb.id, msg)
	return nil
}

// Flush implements ft.Beacon.
func (mb *MemBeacon) Flush(ctx context.Context) error {
	if !mb.bus.connected(mb.id) {
		return fmt.Errorf("membeacon %s: %w", mb.id, ft.ErrNotConnected)
	}
	return ctx.Err()
}

// Messages implements ft.Beacon.
func (mb *MemBeacon) Messages() <-chan []byte { return mb.ch }

// Connected implements ft.Beacon.
func (mb *MemBeacon) Connected() bool { return mb.bus.connected(mb.id) }

// Close implements ft.Beacon.
func (mb *MemBeacon) Close() error {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if !mb.closed {
		mb.closed = true
		close(mb.ch)
	}
	return nil
}

func (mb *MemBeacon) deliver(msg []byte) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.closed {
		return
	}
	select {
	case mb.ch <- msg:
	default: // slow consumer: drop
	}
}
