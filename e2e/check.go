package e2e

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// History is what a scenario recorded: the publisher's acks and the channel
// as read back (or as delivered to a subscriber).
type History struct {
	Acks []Ack
	// Stored is the channel content: at least one delivery per stored
	// sequence (e.g. from ReadChannel).
	Stored []Delivery
}

// Report summarises a History check.
type Report struct {
	Acked      int
	StoredSeqs int
	Lost       []uint64 // acknowledged ids not stored
	Duplicated int      // ids stored at more than one sequence
	DupIDs     []uint64 // those ids
}

// CheckNoAckedLoss verifies that every acknowledged id is stored, that each
// sequence holds one id only (two writers never wrote different messages at
// one sequence), and that the stored sequences are contiguous from the first
// one read. It returns the report and an error describing the first violation.
func CheckNoAckedLoss(h History) (Report, error) {
	r := Report{Acked: len(h.Acks)}
	bySeq := make(map[uint64]uint64)
	seqsOf := make(map[uint64]map[uint64]bool)
	var minSeq, maxSeq uint64
	for _, d := range h.Stored {
		if id, ok := bySeq[d.Seq]; ok && id != d.ID {
			return r, fmt.Errorf("e2e: sequence %d holds two messages: ids %d and %d", d.Seq, id, d.ID)
		}
		bySeq[d.Seq] = d.ID
		if seqsOf[d.ID] == nil {
			seqsOf[d.ID] = make(map[uint64]bool)
		}
		seqsOf[d.ID][d.Seq] = true
		if minSeq == 0 || d.Seq < minSeq {
			minSeq = d.Seq
		}
		if d.Seq > maxSeq {
			maxSeq = d.Seq
		}
	}
	r.StoredSeqs = len(bySeq)
	for id, seqs := range seqsOf {
		if len(seqs) > 1 {
			r.Duplicated++
			r.DupIDs = append(r.DupIDs, id)
		}
	}
	for _, a := range h.Acks {
		if len(seqsOf[a.ID]) == 0 {
			r.Lost = append(r.Lost, a.ID)
		}
	}
	sort.Slice(r.Lost, func(i, j int) bool { return r.Lost[i] < r.Lost[j] })
	if len(r.Lost) > 0 {
		return r, fmt.Errorf("e2e: %d acknowledged messages lost (first ids %v)", len(r.Lost), head(r.Lost, 10))
	}
	if maxSeq > 0 && uint64(len(bySeq)) != maxSeq-minSeq+1 {
		var holes []uint64
		for s := minSeq; s <= maxSeq && len(holes) < 10; s++ {
			if _, ok := bySeq[s]; !ok {
				holes = append(holes, s)
			}
		}
		return r, fmt.Errorf("e2e: stored sequences %d..%d have holes (first %v)", minSeq, maxSeq, holes)
	}
	return r, nil
}

// CheckPublishOrder verifies per-channel order for one publisher: messages
// acknowledged at their first attempt are stored in the order they were
// sent (ids increase with sequence). Retried messages may legitimately land
// later and are skipped.
func CheckPublishOrder(h History) error {
	first := make(map[uint64]bool, len(h.Acks))
	for _, a := range h.Acks {
		if a.Attempts == 1 {
			first[a.ID] = true
		}
	}
	seqOf := make(map[uint64]uint64)
	for _, d := range h.Stored {
		if !first[d.ID] {
			continue
		}
		if s, ok := seqOf[d.ID]; !ok || d.Seq < s {
			seqOf[d.ID] = d.Seq
		}
	}
	ids := make([]uint64, 0, len(seqOf))
	for id := range seqOf {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for i := 1; i < len(ids); i++ {
		if seqOf[ids[i]] <= seqOf[ids[i-1]] {
			return fmt.Errorf("e2e: order: id %d at seq %d but later id %d at seq %d",
				ids[i-1], seqOf[ids[i-1]], ids[i], seqOf[ids[i]])
		}
	}
	return nil
}

// CheckDeliveryOrder verifies that one subscription received first-time
// deliveries (Redelivered false) in increasing sequence order; redeliveries
// may come at any time. A new active whose recovered "sent" records lagged
// (allowed: SPEC D9) resends the last few messages as new once, so the order
// may restart at most resets times (one per failover of the scenario).
// Out-of-order first-time deliveries received within an excused window are
// skipped: a member that was frozen while active and resumed after another
// took over may send what it had in hand before it learns, within its stop
// bound, that it lost the lock (see TestFrozenActiveLosesLock).
func CheckDeliveryOrder(ds []Delivery, resets int, excused ...Window) error {
	var last uint64
	used := 0
	for _, d := range ds {
		if d.Redelivered {
			continue
		}
		if d.Seq <= last && slices.ContainsFunc(excused, func(w Window) bool { return w.Contains(d.At) }) {
			continue
		}
		if d.Seq <= last {
			if used < resets {
				used++
				last = d.Seq
				continue
			}
			return fmt.Errorf("e2e: delivery order: seq %d (id %d) delivered as new after seq %d (%d restarts allowed)", d.Seq, d.ID, last, resets)
		}
		last = d.Seq
	}
	return nil
}

// Window is a time interval, both ends included.
type Window struct{ From, To time.Time }

// Contains reports whether t is within w.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && !t.After(w.To) }

// CheckDurableResume verifies that a durable that was closed after having
// received and acknowledged every sequence up to ackedUpTo resumes after it:
// nothing at or below ackedUpTo is delivered again, and the first delivery
// is ackedUpTo+1 (nothing skipped).
func CheckDurableResume(ackedUpTo uint64, after []Delivery) error {
	if len(after) == 0 {
		return fmt.Errorf("e2e: durable resume: nothing delivered after resuming at %d", ackedUpTo)
	}
	for _, d := range after {
		if d.Seq <= ackedUpTo {
			return fmt.Errorf("e2e: durable resume: seq %d delivered again (acknowledged up to %d)", d.Seq, ackedUpTo)
		}
	}
	var min uint64
	for _, d := range after {
		if min == 0 || d.Seq < min {
			min = d.Seq
		}
	}
	if min != ackedUpTo+1 {
		return fmt.Errorf("e2e: durable resume: first sequence %d, want %d", min, ackedUpTo+1)
	}
	return nil
}

// OutageAfter measures the client-visible outage around an event at t: the
// time from t to the end of the longest gap between consecutive acks among
// those received within window after t (the gap starts at the last ack before
// t at the latest). It returns false if no ack arrived after t.
func OutageAfter(acks []Ack, t time.Time, window time.Duration) (time.Duration, bool) {
	_, end, ok := AckGap(acks, t, window)
	if !ok {
		return 0, false
	}
	return end.Sub(t), true
}

// AckGap returns the longest gap between consecutive ack receptions around
// an event at t, as OutageAfter defines it: start is the ack before the gap
// (or t), end the first ack after it.
func AckGap(acks []Ack, t time.Time, window time.Duration) (start, end time.Time, ok bool) {
	times := make([]time.Time, 0, len(acks))
	for _, a := range acks {
		times = append(times, a.Acked)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	prev := t
	var best time.Duration
	for _, at := range times {
		if !at.After(t) {
			continue
		}
		if at.After(t.Add(window)) {
			break
		}
		if gap := at.Sub(prev); !ok || gap > best {
			best, start, end, ok = gap, prev, at, true
		}
		prev = at
	}
	return start, end, ok
}

func head(ids []uint64, n int) []uint64 {
	if len(ids) > n {
		return ids[:n]
	}
	return ids
}
