package server

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// sub is the runtime state of one subscription. Every field is guarded by
// the channel's mu.
type sub struct {
	st      store.SubState
	ch      *channel
	cl      *client // nil when offline
	grp     *group  // queue group, nil otherwise
	ackWait time.Duration
	ackSub  *nats.Subscription
	pending map[uint64]int64  // seq → ack deadline (unix ns; 0 unknown)
	redeliv map[uint64]uint32 // redelivery counts (non-queue subs)

	ready    bool // subscription response sent: may deliver (SPEC §1)
	stalled  bool // len(pending) reached MaxInFlight
	hold     bool // "new on hold": only redeliveries until the first pass
	offline  bool // offline durable or durable queue group shadow
	removed  bool
	recovery bool // redelivery passes after recovery, until recoveryUntil

	recoveryUntil int64 // last slot of recovered messages (unix ns)

	timer   *time.Timer
	timerOn bool

	// sendDeferred: an ack on this sub's inbox un-stalled it (or, for a
	// queue member, its group) and sending waits for the queued acks.
	sendDeferred bool
}

// group is a queue group of one channel.
type group struct {
	key      string
	durable  bool
	members  []*sub
	lastSent uint64
	redeliv  map[uint64]uint32
	shadow   *sub // parked durable group state (no members)
}

func (sb *sub) counts() map[uint64]uint32 {
	if sb.grp != nil {
		return sb.grp.redeliv
	}
	return sb.redeliv
}

func (sb *sub) hbFailed() bool {
	return sb.cl != nil && sb.cl.hbFailed.Load()
}

func (sb *sub) full() bool {
	return len(sb.pending) >= int(sb.st.MaxInFlight)
}

// sendMsg sends m to sb and records it pending with the given deadline.
// New messages (redelivered false) respect hold and MaxInFlight; a
// redelivery is forced. It returns false when nothing was sent. c.mu held.
func (s *Server) sendMsg(sb *sub, m *pb.MsgProto, redelivered bool, deadline int64) bool {
	if !sb.ready || sb.offline || sb.removed {
		return false
	}
	if !redelivered {
		if sb.hold {
			return false
		}
		if sb.full() {
			sb.stalled = true
			return false
		}
	}
	c := sb.ch
	out := *m
	out.Redelivered = redelivered
	out.RedeliveryCount = 0
	if redelivered {
		counts := sb.counts()
		n := counts[m.Sequence] + 1
		counts[m.Sequence] = n
		out.RedeliveryCount = n
	}
	size := out.Size()
	if cap(c.scratch) < size {
		c.scratch = make([]byte, size, 2*size)
	}
	buf := c.scratch[:size]
	if _, err := out.MarshalToSizedBuffer(buf); err != nil {
		return false
	}
	if s.trace {
		action := "Delivering"
		if redelivered {
			action = "Redelivering"
		}
		s.log.Trace(fmt.Sprintf("[Client:%s] %s msg to subid=%d, subject=%s, seq=%d", sb.st.ClientID, action, sb.st.ID, c.name, m.Sequence))
	}
	if err := s.conns.send.Publish(sb.st.Inbox, buf); err != nil {
		s.log.Debug("unable to deliver", "channel", c.name, "inbox", sb.st.Inbox, "error", err)
		// Keep it pending: the ack timer redelivers it.
	}
	s.stats.outMsgs.Add(1)
	s.stats.outBytes.Add(int64(len(buf)))
	if _, ok := sb.pending[m.Sequence]; !ok {
		if err := c.subStore.AddSeqPending(sb.st.ID, m.Sequence); err != nil {
			s.log.Error("unable to store sent sequence", "channel", c.name, "error", err)
		}
		c.dirty = true
	}
	sb.pending[m.Sequence] = deadline
	if m.Sequence > sb.st.LastSent {
		sb.st.LastSent = m.Sequence
	}
	if !sb.timerOn {
		s.armAckTimer(sb, time.Duration(deadline-time.Now().UnixNano()))
	}
	if sb.full() {
		sb.stalled = true
	}
	return true
}

// deliverNew offers the channel's new messages to every subscription.
// c.mu held.
func (s *Server) deliverNew(c *channel) {
	for _, sb := range c.plain {
		s.sendAvailable(sb)
	}
	for _, g := range c.groups {
		s.sendAvailableGroup(c, g)
	}
}

// sendAvailable sends a plain or durable subscription the messages after
// its lastSent, up to MaxInFlight. c.mu held.
func (s *Server) sendAvailable(sb *sub) {
	if sb.grp != nil {
		s.sendAvailableGroup(sb.ch, sb.grp)
		return
	}
	if !sb.ready || sb.hold || sb.stalled || sb.offline || sb.removed {
		return
	}
	c := sb.ch
	first, last := c.firstLast()
	deadline := time.Now().Add(sb.ackWait).UnixNano()
	for seq := sb.st.LastSent + 1; seq <= last; seq++ {
		if seq < first {
			// Skip what limits removed (first may be last+1).
			if first > last {
				sb.st.LastSent = last
				return
			}
			seq = first
		}
		m, err := c.msgs.Lookup(seq)
		if err != nil {
			return
		}
		if m == nil {
			// Removed by limits: skip the gap.
			sb.st.LastSent = seq
			continue
		}
		if !s.sendMsg(sb, m, false, deadline) {
			return
		}
	}
}

// sendAvailableGroup dispatches the messages after the group's lastSent
// among its members (SPEC §4.7). c.mu held.
func (s *Server) sendAvailableGroup(c *channel, g *group) {
	if len(g.members) == 0 {
		return
	}
	for _, mb := range g.members {
		if mb.hold {
			// New messages wait for the recovered ones of every member
			// (SPEC §7.4); endRecovery resumes the group.
			return
		}
	}
	first, last := c.firstLast()
	now := time.Now()
	for seq := g.lastSent + 1; seq <= last; seq++ {
		if seq < first {
			if first > last {
				g.lastSent = last
				return
			}
			seq = first
		}
		m, err := c.msgs.Lookup(seq)
		if err != nil {
			return
		}
		if m == nil {
			g.lastSent = seq
			continue
		}
		mb := pickMember(g)
		if mb == nil || !s.sendMsg(mb, m, false, now.Add(mb.ackWait).UnixNano()) {
			return
		}
		g.lastSent = seq
	}
}

// pickMember chooses the member that gets the next message: among the
// members neither stalled nor failing heartbeats, the one with the fewest
// pending messages (first wins ties), else the first member. A chosen list
// head moves to the tail, for round-robin among equals.
func pickMember(g *group) *sub {
	best := -1
	for i, mb := range g.members {
		if !mb.ready || mb.stalled || mb.hold || mb.hbFailed() {
			continue
		}
		if best < 0 || len(mb.pending) < len(g.members[best].pending) {
			best = i
		}
	}
	if best < 0 {
		best = 0
	}
	mb := g.members[best]
	if best == 0 && len(g.members) >= 2 {
		copy(g.members, g.members[1:])
		g.members[len(g.members)-1] = mb
	}
	return mb
}

// onAck handles an Ack received on a subscription's ack inbox.
func (s *Server) onAck(c *channel, m *nats.Msg) {
	if !s.enter() {
		return
	}
	defer s.exit()
	subject, seq, err := parseAck(m.Data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted {
		return
	}
	sb := c.acks[m.Subject]
	if sb == nil {
		return
	}
	if err == nil && string(subject) == c.name {
		s.processAck(sb, seq)
	}
	// Resume sending once the acks already queued on this ack inbox are
	// processed: a burst of acks then gives one burst of messages instead
	// of one send per ack. A queued message always runs this callback
	// again, valid ack or not.
	if sb.sendDeferred && !moreQueued(m) {
		sb.sendDeferred = false
		s.sendAvailable(sb)
	}
}

// processAck acknowledges seq received on sb's ack inbox. c.mu held.
func (s *Server) processAck(sb *sub, seq uint64) {
	holder := sb
	if _, ok := sb.pending[seq]; !ok {
		// A queue member may ack a message that was reassigned.
		holder = nil
		if sb.grp != nil {
			for _, mb := range sb.grp.members {
				if _, ok := mb.pending[seq]; ok {
					holder = mb
					break
				}
			}
		}
		if holder == nil {
			return
		}
	}
	if s.trace {
		s.log.Trace(fmt.Sprintf("[Client:%s] Processing ack for subid=%d, subject=%s, seq=%d", holder.st.ClientID, holder.st.ID, holder.ch.name, seq))
	}
	s.ackSeq(holder, seq, true)
	if holder.stalled && !holder.full() {
		holder.stalled = false
		sb.sendDeferred = true
	}
	if holder.recovery {
		// Recovered messages acked before their redelivery slot.
		s.endRecovery(holder, time.Now().UnixNano()+int64(redeliverSlack))
	}
}

// moreQueued reports whether messages are queued behind m on its
// subscription (Pending counts m itself until its callback returns).
func moreQueued(m *nats.Msg) bool {
	if m.Sub == nil {
		return false
	}
	n, _, err := m.Sub.Pending()
	return err == nil && n > 1
}

// ackSeq removes seq from sb's pending set. A real ack also forgets the
// redelivery count; an implicit one (message moved to another queue member)
// keeps it. c.mu held.
func (s *Server) ackSeq(sb *sub, seq uint64, real bool) {
	delete(sb.pending, seq)
	c := sb.ch
	if err := c.subStore.AckSeqPending(sb.st.ID, seq); err != nil {
		s.log.Error("unable to store ack", "channel", c.name, "error", err)
	}
	c.dirty = true
	if real {
		delete(sb.counts(), seq)
	}
	if len(sb.pending) == 0 {
		sb.stopTimer()
	}
}
