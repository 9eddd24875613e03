package server

import (
	"slices"
	"time"
)

// redeliverSlack: messages expiring within this much of now are redelivered
// in the same pass (SPEC §4.6).
const redeliverSlack = 15 * time.Millisecond

// handOverDelay is how soon a leaving queue member's messages are
// redelivered to the remaining members (SPEC §4.7).
const handOverDelay = 100 * time.Millisecond

func (s *Server) armAckTimer(sb *sub, d time.Duration) {
	if d < 0 {
		d = 0
	}
	sb.timerOn = true
	if sb.timer == nil {
		sb.timer = time.AfterFunc(d, func() { s.onAckTimer(sb) })
		return
	}
	sb.timer.Reset(d)
}

func (sb *sub) stopTimer() {
	if sb.timer != nil {
		sb.timer.Stop()
	}
	sb.timerOn = false
}

func (s *Server) onAckTimer(sb *sub) {
	if !s.enter() {
		return
	}
	defer s.exit()
	c := sb.ch
	c.mu.Lock()
	defer c.mu.Unlock()
	sb.timerOn = false
	if sb.removed || sb.offline || c.deleted {
		return
	}
	s.redeliverExpired(sb)
}

type pendingEntry struct {
	seq      uint64
	deadline int64
}

// redeliverExpired redelivers sb's messages whose ack deadline has passed
// (SPEC §4.6) and re-arms the timer. c.mu held.
func (s *Server) redeliverExpired(sb *sub) {
	now := time.Now().UnixNano()
	limit := now + int64(redeliverSlack)
	recovery := sb.recovery
	if recovery {
		defer s.endRecovery(sb, limit)
	}
	if len(sb.pending) == 0 {
		return
	}
	if sb.grp == nil && sb.hbFailed() && !recovery {
		s.armAckTimer(sb, sb.ackWait)
		return
	}
	c := sb.ch
	var due []pendingEntry
	for seq, dl := range sb.pending {
		if dl <= limit {
			due = append(due, pendingEntry{seq: seq, deadline: dl})
		}
	}
	slices.SortFunc(due, func(a, b pendingEntry) int {
		if a.deadline != b.deadline {
			if a.deadline < b.deadline {
				return -1
			}
			return 1
		}
		if a.seq < b.seq {
			return -1
		}
		if a.seq > b.seq {
			return 1
		}
		return 0
	})
	sent := 0
	for _, e := range due {
		m, err := c.msgs.Lookup(e.seq)
		if err != nil {
			break
		}
		if m == nil {
			// Gone because of limits: treat as acked.
			s.ackSeq(sb, e.seq, true)
			s.unstallAfterAck(sb)
			continue
		}
		deadline := e.deadline + int64(sb.ackWait)
		if e.deadline == 0 {
			deadline = now + int64(sb.ackWait)
		}
		target := sb
		if sb.grp != nil && !recovery {
			// Right after recovery the message goes back to the same member.
			target = pickMember(sb.grp)
		}
		if target != sb {
			s.ackSeq(sb, e.seq, false)
			deadline = now + int64(target.ackWait)
		}
		if s.sendMsg(target, m, true, deadline) {
			sent++
		}
		if target != sb {
			// The implicit ack may un-stall the original member.
			s.unstallAfterAck(sb)
		}
	}
	if sent > 0 {
		s.metrics.Redeliveries(sent)
	}
	s.rearmAckTimer(sb, now)
}

// unstallAfterAck un-stalls sb when an ack the server made itself (message
// gone because of limits, or moved to another queue member) brought its
// pending count below MaxInFlight, and resumes sending as a client's ack
// would (SPEC §4.5): for a queue member, to the whole group. c.mu held.
func (s *Server) unstallAfterAck(sb *sub) {
	if !sb.stalled || sb.full() {
		return
	}
	sb.stalled = false
	s.sendAvailable(sb)
}

// endRecovery ends the recovery period of sb, releasing the hold on new
// messages, once every recovered expired message was redelivered or acked:
// the last slot is reached, or none of them is still pending. c.mu held.
func (s *Server) endRecovery(sb *sub, limit int64) {
	if !sb.recovery || (limit < sb.recoveryUntil && sb.recoveredLeft()) {
		return
	}
	sb.recovery = false
	if sb.hold {
		sb.hold = false
		s.sendAvailable(sb)
	}
}

// recoveredLeft reports whether a recovered expired message is still
// pending and not yet redelivered (its deadline is within the recovery
// slots). c.mu held.
func (sb *sub) recoveredLeft() bool {
	for _, dl := range sb.pending {
		if dl <= sb.recoveryUntil {
			return true
		}
	}
	return false
}

// rearmAckTimer arms the timer for the next future deadline, or ackWait if
// none is in the future; it stops it when nothing is pending. c.mu held.
func (s *Server) rearmAckTimer(sb *sub, now int64) {
	if len(sb.pending) == 0 {
		sb.stopTimer()
		return
	}
	next := int64(0)
	for _, dl := range sb.pending {
		if dl > now && (next == 0 || dl < next) {
			next = dl
		}
	}
	if next == 0 {
		s.armAckTimer(sb, sb.ackWait)
		return
	}
	s.armAckTimer(sb, time.Duration(next-now))
}

// redeliverAllPending redelivers every pending message of a resumed durable
// or adopted shadow at once, in sequence order, before any new message
// (SPEC §4.8). c.mu held.
func (s *Server) redeliverAllPending(sb *sub) {
	if len(sb.pending) == 0 {
		return
	}
	c := sb.ch
	seqs := make([]uint64, 0, len(sb.pending))
	for seq := range sb.pending {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	// As for any redelivery of a pending message, its next expiration is
	// the previous one plus ackWait (now plus ackWait when unknown). The
	// first check is ackWait from now: the deadlines of messages that were
	// pending for long are already past, and they are redelivered then.
	now := time.Now().UnixNano()
	s.armAckTimer(sb, sb.ackWait)
	sent := 0
	for _, seq := range seqs {
		m, err := c.msgs.Lookup(seq)
		if err != nil {
			break
		}
		if m == nil {
			s.ackSeq(sb, seq, true)
			continue
		}
		prev := sb.pending[seq]
		if prev == 0 {
			prev = now
		}
		if s.sendMsg(sb, m, true, prev+int64(sb.ackWait)) {
			sent++
		}
	}
	if sent > 0 {
		s.metrics.Redeliveries(sent)
	}
}

// handOver moves a leaving queue member's pending messages round-robin to
// the remaining members, already expired, so they are redelivered almost
// at once (SPEC §4.7). c.mu held; sb is no longer in g.members.
func (s *Server) handOver(sb *sub, g *group) {
	if len(g.members) == 0 || len(sb.pending) == 0 {
		return
	}
	c := sb.ch
	seqs := make([]uint64, 0, len(sb.pending))
	for seq := range sb.pending {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	now := time.Now().UnixNano()
	for i, seq := range seqs {
		mb := g.members[i%len(g.members)]
		if _, ok := mb.pending[seq]; !ok {
			if err := c.subStore.AddSeqPending(mb.st.ID, seq); err != nil {
				s.log.Error("unable to store sent sequence", "channel", c.name, "error", err)
			}
		}
		mb.pending[seq] = now
		if seq > mb.st.LastSent {
			mb.st.LastSent = seq
		}
		if mb.full() {
			mb.stalled = true
		}
		s.armAckTimer(mb, handOverDelay)
	}
	c.dirty = true
	clear(sb.pending)
}
