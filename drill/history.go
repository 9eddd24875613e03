package drill

import (
	"slices"
	"sync"
	"time"
)

// history records every publish, PubAck and delivery of a drill. Safe for
// concurrent use: the publisher, the ack handlers and the subscriber all
// write to it.
type history struct {
	mu          sync.Mutex
	published   int                  // publishes handed to the client
	pubErrors   int                  // publishes refused at once (not connected)
	acks        map[uint64]time.Time // id → when its PubAck arrived
	ackErrors   map[uint64]bool      // ids whose publish failed (timeout, error)
	deliveries  map[uint64]int       // id → deliveries
	redelivered int                  // deliveries flagged Redelivered
}

func newHistory() *history {
	return &history{
		acks:       make(map[uint64]time.Time),
		ackErrors:  make(map[uint64]bool),
		deliveries: make(map[uint64]int),
	}
}

func (h *history) publish(ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.published++
	if !ok {
		h.pubErrors++
	}
}

func (h *history) ack(id uint64, at time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.ackErrors[id] = true
		return
	}
	h.acks[id] = at
}

func (h *history) deliver(id uint64, redelivered bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliveries[id]++
	if redelivered {
		h.redelivered++
	}
}

// counts is a consistent snapshot of the counters.
type counts struct {
	published, acked, failed, delivered, missing int
}

func (h *history) counts() counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := counts{published: h.published, acked: len(h.acks), failed: len(h.ackErrors) + h.pubErrors, delivered: len(h.deliveries)}
	for id := range h.acks {
		if h.deliveries[id] == 0 {
			c.missing++
		}
	}
	return c
}

// settled reports whether every publish has its outcome (ack or error).
func (h *history) settled() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acks)+len(h.ackErrors)+h.pubErrors >= h.published
}

// maxLostIDs bounds Report.LostIDs.
const maxLostIDs = 20

// fill computes the message figures of r from the history, and the longest
// gap between consecutive PubAcks at or after from (one ack interval before
// the trigger, so the gap that starts with the failover is included).
func (h *history) fill(r *Report, from time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.Published = h.published
	r.Acknowledged = len(h.acks)
	r.Unacknowledged = len(h.ackErrors) + h.pubErrors
	r.Redelivered = h.redelivered
	var lost []uint64
	for id := range h.acks {
		if h.deliveries[id] == 0 {
			lost = append(lost, id)
		}
	}
	slices.Sort(lost)
	r.Lost = len(lost)
	r.LostIDs = lost[:min(len(lost), maxLostIDs)]
	for id, n := range h.deliveries {
		r.Delivered++
		if n > 1 {
			r.Duplicated += n - 1
		}
		if _, ok := h.acks[id]; !ok {
			r.DeliveredUnacknowledged++
		}
	}
	times := make([]time.Time, 0, len(h.acks))
	for _, t := range h.acks {
		times = append(times, t)
	}
	r.Outage, r.OutageStart, r.OutageEnd = longestGap(times, from)
}

// longestGap returns the longest interval between consecutive times (sorted
// here) considering only the last time before from and every time after it.
func longestGap(times []time.Time, from time.Time) (time.Duration, time.Time, time.Time) {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	start := 0
	for i, t := range times {
		if t.Before(from) {
			start = i
		}
	}
	var gap time.Duration
	var gs, ge time.Time
	for i := start + 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d > gap {
			gap, gs, ge = d, times[i-1], times[i]
		}
	}
	return gap, gs, ge
}
