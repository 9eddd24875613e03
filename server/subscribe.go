package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// onSubscribe handles a SubscriptionRequest (SPEC §4.1-§4.4).
func (s *Server) onSubscribe(m *nats.Msg) {
	if !s.enter() {
		return
	}
	defer s.exit()
	req := &pb.SubscriptionRequest{}
	if errText := validateSubRequest(req, m.Data); errText != "" {
		s.replySub(m.Reply, "", errText)
		return
	}
	s.mu.RLock()
	cl := s.clients[req.ClientID]
	s.mu.RUnlock()
	if cl == nil {
		s.replySub(m.Reply, "", errUnknownClient)
		return
	}
	c, errText := s.lookupOrCreateChannel(req.Subject)
	if errText != "" {
		s.replySub(m.Reply, "", errText)
		return
	}
	// Subscribe the ack inbox before answering, and before taking the
	// channel lock (a flush is a round trip to the NATS server).
	ackInbox := nats.NewInbox()
	ackSub, err := s.conns.acks.Subscribe(ackInbox, func(am *nats.Msg) { s.onAck(c, am) })
	if err == nil {
		_ = ackSub.SetPendingLimits(-1, -1)
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		err = s.conns.acks.FlushWithContext(ctx)
		cancel()
	}
	if err != nil {
		s.log.Error("unable to subscribe ack inbox", "error", err)
		if ackSub != nil {
			_ = ackSub.Unsubscribe()
		}
		s.replySub(m.Reply, "", err.Error())
		return
	}
	if s.ctx.Err() != nil {
		_ = ackSub.Unsubscribe()
		return // deactivated meanwhile: change nothing
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sb, resumed, prefix, errText := s.addSub(c, cl, req, ackInbox, ackSub)
	if errText != "" {
		_ = ackSub.Unsubscribe()
		s.replySub(m.Reply, "", errText)
		return
	}
	// The response goes out on the send connection, before any message on
	// this subscription (SPEC §1 reply-before-data).
	s.replySub(m.Reply, ackInbox, "")
	sb.ready = true
	if s.debug {
		start := ""
		if prefix == "Started new" {
			start = startTrace(req, sb.st.LastSent)
		}
		s.traceSub(sb, prefix, start)
	}
	if resumed {
		s.redeliverAllPending(sb)
	}
	s.sendAvailable(sb)
	if err := c.flushSubs(); err != nil {
		s.log.Error("unable to flush subscription store", "channel", c.name, "error", err)
	}
}

func validateSubRequest(req *pb.SubscriptionRequest, data []byte) string {
	switch {
	case req.Unmarshal(data) != nil:
		return errInvalidSubReq
	case req.ClientID == "":
		return errMissingClientID
	case req.AckWaitInSecs <= 0:
		return errInvalidAckWait
	case req.MaxInFlight <= 0:
		return errInvalidMaxInflight
	case req.StartPosition < pb.StartPosition_NewOnly || req.StartPosition > pb.StartPosition_First:
		return errInvalidStart
	case !store.IsChannelNameValid(req.Subject, false):
		return errInvalidSubject
	}
	return ""
}

func (s *Server) replySub(reply, ackInbox, errText string) {
	if reply == "" {
		return
	}
	resp := pb.SubscriptionResponse{AckInbox: ackInbox, Error: errText}
	b, _ := resp.Marshal()
	_ = s.conns.send.Publish(reply, b)
}

func durableKey(clientID, subject, durable string) string {
	return clientID + "-" + subject + "-" + durable
}

// addSub creates, resumes or adopts the subscription of req and persists
// it. resumed is true when existing pending messages must be redelivered
// first; prefix names what happened for the debug line (see traceSub).
// c.mu held.
func (s *Server) addSub(c *channel, cl *client, req *pb.SubscriptionRequest, ackInbox string, ackSub *nats.Subscription) (sb *sub, resumed bool, prefix, errText string) {
	if c.deleted {
		return nil, false, "", errChannelBeingDeleted
	}
	apply := func(x *sub) {
		x.st.ClientID = req.ClientID
		x.st.Inbox = req.Inbox
		x.st.AckInbox = ackInbox
		x.st.MaxInFlight = req.MaxInFlight
		x.st.AckWaitInSecs = req.AckWaitInSecs
		x.st.IsClosed = false
		x.ackWait = time.Duration(req.AckWaitInSecs) * time.Second
		x.ackSub = ackSub
		x.cl = cl
		x.offline = false
		x.stalled = false
		x.hold = false
		x.recovery = false
		x.recoveryUntil = 0
	}
	var g *group
	switch {
	case req.QGroup != "":
		key, durable := req.QGroup, false
		if req.DurableName != "" {
			if strings.Contains(req.DurableName, ":") {
				return nil, false, "", errInvalidDurableName
			}
			key, durable = req.DurableName+":"+req.QGroup, true
		}
		g = c.groups[key]
		if g != nil && len(g.members) == 0 && g.shadow != nil {
			// Adopt the parked durable group (SPEC §4.9).
			sb = g.shadow
			old := sb.st
			apply(sb)
			sb.st.LastSent = g.lastSent
			if err := c.subStore.UpdateSub(&sb.st); err != nil {
				sb.st = old
				sb.offline = true
				return nil, false, "", err.Error()
			}
			g.shadow = nil
			resumed, prefix = true, "Resumed"
		} else {
			sb = newSub(c)
			sb.st.QGroup = key
			sb.st.IsDurable = durable
			apply(sb)
			prefix = "Added member to"
			if g == nil {
				sb.st.LastSent = s.startLastSent(c, req)
				prefix = "Started new"
			}
			// A member joining an existing group starts at 0: the group's
			// position is the group's (removeSub keeps it in a member's
			// record when a member leaves).
			if err := c.subStore.CreateSub(&sb.st); err != nil {
				return nil, false, "", err.Error()
			}
			if g == nil {
				g = &group{key: key, durable: durable, lastSent: sb.st.LastSent, redeliv: make(map[uint64]uint32)}
				c.groups[key] = g
			}
		}
		sb.grp = g
		g.members = append(g.members, sb)
	case req.DurableName != "":
		key := durableKey(req.ClientID, req.Subject, req.DurableName)
		d := c.durables[key]
		if d != nil && !d.offline {
			if !s.cfg.ReplaceDurable {
				return nil, false, "", errDuplicateDurable
			}
			s.removeSub(d, false)
		}
		if d != nil {
			sb = d
			old := sb.st
			apply(sb)
			if err := c.subStore.UpdateSub(&sb.st); err != nil {
				sb.st = old
				sb.offline = true
				return nil, false, "", err.Error()
			}
			resumed, prefix = true, "Resumed"
		} else {
			sb = newSub(c)
			sb.st.DurableName = req.DurableName
			sb.st.IsDurable = true
			apply(sb)
			sb.st.LastSent = s.startLastSent(c, req)
			prefix = "Started new"
			if err := c.subStore.CreateSub(&sb.st); err != nil {
				return nil, false, "", err.Error()
			}
			c.durables[key] = sb
		}
		c.plain = append(c.plain, sb)
	default:
		sb = newSub(c)
		apply(sb)
		sb.st.LastSent = s.startLastSent(c, req)
		prefix = "Started new"
		if err := c.subStore.CreateSub(&sb.st); err != nil {
			return nil, false, "", err.Error()
		}
		c.plain = append(c.plain, sb)
	}
	c.all[sb.st.ID] = sb
	c.acks[ackInbox] = sb
	c.active++
	c.markActivity(time.Now())
	if c.inactTimer != nil {
		c.inactTimer.Stop()
	}
	// The subscription is durable before the response (SPEC D9).
	c.dirty = false
	if err := c.subStore.Flush(); err != nil {
		// The client must not believe in a subscription (a durable above
		// all) that was not persisted: undo it and fail the request. A
		// resumed durable or adopted group goes back offline; a new one is
		// removed. The store keeps the records it could not write and
		// writes them with its next flush.
		s.log.Error("unable to flush subscription store, failing the subscription", "channel", c.name, "error", err)
		s.removeSub(sb, !resumed)
		c.dirty = true
		return nil, false, "", storeFailureText(fmt.Errorf("server: flush subscriptions of %q: %w", c.name, err))
	}
	if !cl.addSub(sb) {
		// The client closed meanwhile.
		s.removeSub(sb, false)
		_ = c.flushSubs()
		return nil, false, "", errUnknownClient
	}
	return sb, resumed, prefix, ""
}

// keepGroupLastSent makes sure a member's record holds the group's last
// sent sequence, which recovery rebuilds as the highest of its members'
// (a leaving member may have held it). c.mu held.
func (s *Server) keepGroupLastSent(g *group) {
	for _, mb := range g.members {
		if mb.st.LastSent >= g.lastSent {
			return
		}
	}
	mb := g.members[0]
	mb.st.LastSent = g.lastSent
	if err := mb.ch.subStore.UpdateSub(&mb.st); err != nil {
		s.log.Error("unable to update subscription", "channel", mb.ch.name, "error", err)
	}
	mb.ch.dirty = true
}

func newSub(c *channel) *sub {
	return &sub{
		ch:      c,
		pending: make(map[uint64]int64),
		redeliv: make(map[uint64]uint32),
	}
}

// startLastSent computes lastSent for a new subscription from its start
// position (SPEC §4.3). c.mu held.
func (s *Server) startLastSent(c *channel, req *pb.SubscriptionRequest) uint64 {
	first, last := c.firstLast()
	switch req.StartPosition {
	case pb.StartPosition_LastReceived:
		if last > 0 {
			return last - 1
		}
		return 0
	case pb.StartPosition_TimeDeltaStart:
		ts := time.Now().UnixNano() - req.StartTimeDelta
		seq, err := c.msgs.GetSequenceFromTimestamp(ts)
		if err != nil || seq == 0 {
			return 0
		}
		return min(seq-1, last)
	case pb.StartPosition_SequenceStart:
		if last == 0 {
			return 0
		}
		switch {
		case req.StartSequence < first:
			return first - 1
		case req.StartSequence > last:
			return last
		default:
			return req.StartSequence - 1
		}
	case pb.StartPosition_First:
		if first > 0 {
			return first - 1
		}
		return 0
	default: // NewOnly
		return last
	}
}

// startTrace describes a new subscription's start for the debug line, as
// the reference does.
func startTrace(req *pb.SubscriptionRequest, lastSent uint64) string {
	next := lastSent + 1
	switch req.StartPosition {
	case pb.StartPosition_LastReceived:
		return fmt.Sprintf("last message, seq=%d", next)
	case pb.StartPosition_TimeDeltaStart:
		return fmt.Sprintf("from time time='%v' seq=%d", time.Unix(0, time.Now().UnixNano()-req.StartTimeDelta), next)
	case pb.StartPosition_SequenceStart:
		return fmt.Sprintf("from sequence, asked_seq=%d actual_seq=%d", req.StartSequence, next)
	case pb.StartPosition_First:
		return fmt.Sprintf("from beginning, seq=%d", next)
	default:
		return fmt.Sprintf("new-only, seq=%d", next)
	}
}

// traceRemoved logs a subscription's removal at debug level. c.mu held.
func (s *Server) traceRemoved(sb *sub, prefix string) {
	if s.debug {
		s.traceSub(sb, prefix, "")
	}
}

// traceSub logs a subscription's creation, resumption or removal at debug
// level with the reference's texts: prefix is "Started new", "Added member
// to", "Resumed", "Removed", "Removed member from" or "Suspended". c.mu held.
func (s *Server) traceSub(sb *sub, prefix, start string) {
	kind := ""
	if sb.st.IsDurable {
		kind = "durable "
	}
	specific := ""
	if sb.st.QGroup != "" {
		kind += "queue "
		specific = fmt.Sprintf(" queue=%s,", sb.st.QGroup)
	} else if sb.st.IsDurable {
		specific = fmt.Sprintf(" durable=%s,", sb.st.DurableName)
	}
	sending := ""
	if start != "" {
		sending = ", sending " + start
	}
	s.log.Debug(fmt.Sprintf("[Client:%s] %s %ssubscription, subject=%s, inbox=%s,%s subid=%d%s",
		sb.st.ClientID, prefix, kind, sb.ch.name, sb.st.Inbox, specific, sb.st.ID, sending))
}

// onUnsubscribe and onSubClose handle UnsubscribeRequests (SPEC §5).
func (s *Server) onUnsubscribe(m *nats.Msg) { s.handleUnsub(m, true) }
func (s *Server) onSubClose(m *nats.Msg)    { s.handleUnsub(m, false) }

func (s *Server) handleUnsub(m *nats.Msg, unsub bool) {
	if !s.enter() {
		return
	}
	defer s.exit()
	var req pb.UnsubscribeRequest
	if req.Unmarshal(m.Data) != nil {
		s.replyUnsub(m.Reply, errInvalidUnsubReq)
		return
	}
	// Acks the client sent before this request are processed first.
	s.barrier(false)
	if s.ctx.Err() != nil {
		return // deactivated meanwhile: change nothing
	}
	c := s.lookupChannel(req.Subject)
	if c == nil {
		s.replyUnsub(m.Reply, errUnknownChannel)
		return
	}
	c.mu.Lock()
	sb := c.findOnline(req.Inbox)
	errText := ""
	switch {
	case sb == nil:
		errText = errInvalidSub
	case sb.st.ClientID != req.ClientID:
		errText = errUnknownClient
	default:
		s.removeSub(sb, unsub)
		if err := c.flushSubs(); err != nil {
			s.log.Error("unable to flush subscription store", "channel", c.name, "error", err)
		}
	}
	c.mu.Unlock()
	s.replyUnsub(m.Reply, errText)
}

// replyUnsub answers on the send connection so that the response follows
// the deliveries that preceded it.
func (s *Server) replyUnsub(reply, errText string) {
	if reply == "" {
		return
	}
	resp := pb.SubscriptionResponse{Error: errText}
	b, _ := resp.Marshal()
	_ = s.conns.send.Publish(reply, b)
}

// findOnline finds an online subscription by ack inbox, then by delivery
// inbox. c.mu held.
func (c *channel) findOnline(inbox string) *sub {
	if inbox == "" {
		return nil
	}
	if sb := c.acks[inbox]; sb != nil {
		return sb
	}
	for _, sb := range c.acks {
		if sb.st.Inbox == inbox {
			return sb
		}
	}
	return nil
}

// removeSub takes an online subscription away: unsub (Unsubscribe) or
// close (sub Close, connection close) semantics of SPEC §5. c.mu held.
func (s *Server) removeSub(sb *sub, unsub bool) {
	c := sb.ch
	sb.stopTimer()
	if sb.ackSub != nil {
		_ = sb.ackSub.Unsubscribe()
		sb.ackSub = nil
	}
	delete(c.acks, sb.st.AckInbox)
	if !sb.offline {
		c.active--
	}
	if sb.cl != nil {
		sb.cl.removeSub(sb)
		sb.cl = nil
	}
	sb.ready = false
	sb.hold = false
	// stalled stays as it was for a sub going offline (durable, shadow):
	// the reference's monitoring shows it until a resume recomputes it.
	del := func() {
		sb.stalled = false
		if err := c.subStore.DeleteSub(sb.st.ID); err != nil {
			s.log.Error("unable to delete subscription", "channel", c.name, "error", err)
		}
		sb.removed = true
		delete(c.all, sb.st.ID)
	}
	goOffline := func() {
		sb.offline = true
		sb.st.IsClosed = true
		if err := c.subStore.UpdateSub(&sb.st); err != nil {
			s.log.Error("unable to update subscription", "channel", c.name, "error", err)
		}
	}
	if g := sb.grp; g != nil {
		for i, mb := range g.members {
			if mb == sb {
				g.members = append(g.members[:i], g.members[i+1:]...)
				break
			}
		}
		switch {
		case len(g.members) > 0:
			s.traceRemoved(sb, "Removed member from")
			s.handOver(sb, g)
			s.keepGroupLastSent(g)
			del()
			// Its deferred sends, if any, are the group's.
			s.sendAvailableGroup(c, g)
		case g.durable && !unsub:
			s.traceRemoved(sb, "Suspended")
			sb.st.LastSent = g.lastSent
			goOffline()
			g.shadow = sb
		default:
			s.traceRemoved(sb, "Removed")
			delete(c.groups, g.key)
			del()
		}
	} else {
		for i, x := range c.plain {
			if x == sb {
				c.plain = append(c.plain[:i], c.plain[i+1:]...)
				break
			}
		}
		switch {
		case sb.st.IsDurable && !unsub:
			s.traceRemoved(sb, "Suspended")
			goOffline()
		case sb.st.IsDurable:
			s.traceRemoved(sb, "Removed")
			delete(c.durables, durableKey(sb.st.ClientID, c.name, sb.st.DurableName))
			del()
		default:
			s.traceRemoved(sb, "Removed")
			del()
		}
	}
	c.dirty = true
	if c.active == 0 {
		c.markActivity(time.Now())
		s.armInactivity(c)
	}
}
