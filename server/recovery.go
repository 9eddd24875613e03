package server

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stanft/stanft/store"
)

func newServerInfo(cid, discoverPrefix string) store.ServerInfo {
	return store.ServerInfo{
		ClusterID:   cid,
		Discovery:   discoverPrefix + "." + cid,
		Publish:     "_STAN.pub." + cid,
		Subscribe:   "_STAN.sub." + cid,
		Unsubscribe: "_STAN.unsub." + cid,
		Close:       "_STAN.close." + cid,
		SubClose:    "_STAN.subclose." + cid,
		AcksSubs:    "_STAN.ack." + cid,
	}
}

// recover loads the store's state, or initialises a fresh datastore
// (SPEC §7.4). Called by Activate with running set, before the STAN
// subjects are subscribed.
func (s *Server) recover(ctx context.Context) error {
	s.limits = s.st.Limits()
	rs, err := s.st.Recover(ctx)
	if err != nil {
		return fmt.Errorf("server: recover store: %w", err)
	}
	if rs == nil || rs.Info == nil {
		info := newServerInfo(s.cfg.ClusterID, s.cfg.DiscoverPrefix)
		if err := s.st.Init(&info); err != nil {
			return fmt.Errorf("server: init store: %w", err)
		}
		s.mu.Lock()
		s.info = info
		s.mu.Unlock()
		s.log.Info("No recovered state")
		return nil
	}
	if rs.Info.ClusterID != s.cfg.ClusterID {
		return fmt.Errorf("cluster ID %q does not match recovered value of %q", s.cfg.ClusterID, rs.Info.ClusterID)
	}
	info := *rs.Info
	if info.SubClose == "" {
		info.SubClose = "_STAN.subclose." + info.ClusterID
		if err := s.st.Init(&info); err != nil {
			return fmt.Errorf("server: update server info: %w", err)
		}
	}
	s.mu.Lock()
	s.info = info
	for _, rc := range rs.Clients {
		cl := &client{rec: *rc}
		s.clients[rc.ID] = cl
		if len(rc.ConnID) > 0 {
			s.byConnID[string(rc.ConnID)] = cl
		}
	}
	s.mu.Unlock()

	names := make([]string, 0, len(rs.Channels))
	for name := range rs.Channels {
		names = append(names, name)
	}
	sort.Strings(names)
	var withPending []*sub
	for _, name := range names {
		subs, err := s.recoverChannel(name, rs.Channels[name])
		if err != nil {
			return err
		}
		withPending = append(withPending, subs...)
	}
	s.log.Info(fmt.Sprintf("Recovered %d channel(s)", len(names)))
	s.scheduleRecoveredRedelivery(withPending)
	s.mu.RLock()
	clients := make([]*client, 0, len(s.clients))
	for _, cl := range s.clients {
		clients = append(clients, cl)
	}
	s.mu.RUnlock()
	// Fresh heartbeat deadlines: clients had no chance to answer while no
	// server was active (STYLE G12).
	for _, cl := range clients {
		s.armHB(cl, s.cfg.ClientHBInterval)
	}
	return nil
}

// recoverChannel rebuilds one channel and its subscriptions. It returns
// the online subscriptions that have pending messages.
func (s *Server) recoverChannel(name string, rc *store.RecoveredChannel) ([]*sub, error) {
	s.mu.Lock()
	c := s.addChannelLocked(name, rc.Channel)
	s.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dirty = true // recovery may update sub records: flush once at the end
	_, last, err := c.msgs.FirstAndLastSequence()
	if err != nil {
		return nil, fmt.Errorf("server: recover channel %q: %w", name, err)
	}
	c.nextSeq, c.flushed = last+1, last
	if last > 0 {
		if m, err := c.msgs.Lookup(last); err == nil && m != nil {
			c.lastTS = m.Timestamp
		}
	}
	var online, ghosts []*sub
	for _, rsub := range rc.Subs {
		if rsub == nil || rsub.Sub == nil {
			continue
		}
		sb := newSub(c)
		sb.st = *rsub.Sub
		// Guard against impossible stored values (the client's defaults).
		if sb.st.AckWaitInSecs <= 0 {
			sb.st.AckWaitInSecs = 30
		}
		if sb.st.MaxInFlight <= 0 {
			sb.st.MaxInFlight = 1024
		}
		sb.ackWait = time.Duration(sb.st.AckWaitInSecs) * time.Second
		for seq := range rsub.Pending {
			sb.pending[seq] = 0
		}
		s.mu.RLock()
		cl := s.clients[sb.st.ClientID]
		s.mu.RUnlock()
		switch {
		case sb.st.QGroup != "":
			g := c.groups[sb.st.QGroup]
			if g == nil {
				g = &group{key: sb.st.QGroup, durable: sb.st.IsDurable, redeliv: make(map[uint64]uint32)}
				c.groups[g.key] = g
			}
			sb.grp = g
			if sb.st.LastSent > g.lastSent {
				g.lastSent = sb.st.LastSent
			}
			switch {
			case sb.st.IsClosed:
				sb.offline = true
				g.shadow = sb
			case cl == nil:
				ghosts = append(ghosts, sb)
				continue
			default:
				sb.cl = cl
				g.members = append(g.members, sb)
			}
		case sb.st.IsDurable:
			c.durables[durableKey(sb.st.ClientID, name, sb.st.DurableName)] = sb
			if sb.st.IsClosed || cl == nil {
				if !sb.st.IsClosed {
					sb.st.IsClosed = true
					if err := c.subStore.UpdateSub(&sb.st); err != nil {
						return nil, fmt.Errorf("server: recover channel %q: %w", name, err)
					}
				}
				sb.offline = true
			} else {
				sb.cl = cl
				c.plain = append(c.plain, sb)
			}
		default:
			if cl == nil {
				if err := c.subStore.DeleteSub(sb.st.ID); err != nil {
					return nil, fmt.Errorf("server: recover channel %q: %w", name, err)
				}
				continue
			}
			sb.cl = cl
			c.plain = append(c.plain, sb)
		}
		c.all[sb.st.ID] = sb
		if !sb.offline {
			online = append(online, sb)
		}
	}
	// Queue members whose client is gone are dropped; a durable group that
	// is left without members or shadow keeps its state as a shadow.
	for _, sb := range ghosts {
		g := sb.grp
		if g.durable && len(g.members) == 0 && g.shadow == nil {
			sb.offline = true
			sb.st.IsClosed = true
			sb.st.LastSent = g.lastSent
			if err := c.subStore.UpdateSub(&sb.st); err != nil {
				return nil, fmt.Errorf("server: recover channel %q: %w", name, err)
			}
			g.shadow = sb
			c.all[sb.st.ID] = sb
			continue
		}
		// Its unacknowledged messages go to the remaining members, or to
		// the group's shadow when no member is left: they stay the group's.
		heirs := g.members
		if len(heirs) == 0 && g.shadow != nil {
			heirs = []*sub{g.shadow}
		}
		if len(heirs) > 0 {
			seqs := make([]uint64, 0, len(sb.pending))
			for seq := range sb.pending {
				seqs = append(seqs, seq)
			}
			slices.Sort(seqs)
			for i, seq := range seqs {
				mb := heirs[i%len(heirs)]
				if _, ok := mb.pending[seq]; ok {
					continue
				}
				mb.pending[seq] = 0
				if err := c.subStore.AddSeqPending(mb.st.ID, seq); err != nil {
					return nil, fmt.Errorf("server: recover channel %q: %w", name, err)
				}
				c.dirty = true
			}
		}
		if err := c.subStore.DeleteSub(sb.st.ID); err != nil {
			return nil, fmt.Errorf("server: recover channel %q: %w", name, err)
		}
		if len(g.members) > 0 {
			s.keepGroupLastSent(g)
		}
	}
	for key, g := range c.groups {
		if len(g.members) == 0 && g.shadow == nil {
			delete(c.groups, key)
		}
		if g.shadow != nil && g.shadow.st.LastSent < g.lastSent {
			g.shadow.st.LastSent = g.lastSent
		}
	}
	// An offline durable or shadow whose pending reached its max in-flight
	// shows stalled, as the reference's recovery marks every such sub; a
	// resume recomputes it. Online ones are marked below.
	for _, sb := range c.all {
		if sb.offline && sb.full() {
			sb.stalled = true
		}
	}
	var withPending []*sub
	for _, sb := range online {
		ackSub, err := s.conns.acks.Subscribe(sb.st.AckInbox, func(am *nats.Msg) { s.onAck(c, am) })
		if err != nil {
			return nil, fmt.Errorf("server: recover channel %q: subscribe ack inbox: %w", name, err)
		}
		_ = ackSub.SetPendingLimits(-1, -1)
		sb.ackSub = ackSub
		c.acks[sb.st.AckInbox] = sb
		c.active++
		sb.cl.addSub(sb)
		sb.ready = true
		if len(sb.pending) > 0 {
			// Unknown deadlines: message timestamp + ackWait (SPEC §7.4).
			for seq := range sb.pending {
				if m, err := c.msgs.Lookup(seq); err == nil && m != nil {
					sb.pending[seq] = m.Timestamp + int64(sb.ackWait)
				}
			}
			sb.hold = true
			sb.recovery = true
			withPending = append(withPending, sb)
		}
		if sb.full() {
			sb.stalled = true
		}
	}
	if err := c.flushSubs(); err != nil {
		return nil, fmt.Errorf("server: recover channel %q: %w", name, err)
	}
	if err := s.conns.acks.Flush(); err != nil {
		return nil, fmt.Errorf("server: recover channel %q: %w", name, err)
	}
	s.armInactivity(c)
	// Subscriptions without pending messages resume delivery at once.
	for _, sb := range online {
		if !sb.hold {
			s.sendAvailable(sb)
		}
	}
	return withPending, nil
}

// spreadSteps is the number of slots the activation spread window is cut
// into: each slot redelivers a share of the expired recovered messages.
const spreadSteps = 20

// scheduleRecoveredRedelivery arms the first redelivery pass of every
// recovered subscription with pending messages. In FT mode the messages
// whose ack deadline has passed are spread over Config.ActivationSpread, in
// order (subscription by subscription, sequence by sequence), so that a
// failover does not cause a redelivery storm (STYLE G12). New messages stay
// on hold for a subscription until its recovered messages are redelivered.
func (s *Server) scheduleRecoveredRedelivery(subs []*sub) {
	spread := time.Duration(0)
	if s.cfg.FT {
		spread = s.cfg.ActivationSpread
	}
	now := time.Now()
	nowNs := now.UnixNano()
	type item struct {
		sb  *sub
		seq uint64
	}
	var expired []item
	for _, sb := range subs {
		c := sb.ch
		c.mu.Lock()
		seqs := make([]uint64, 0, len(sb.pending))
		for seq, dl := range sb.pending {
			if dl <= nowNs {
				seqs = append(seqs, seq)
			}
		}
		c.mu.Unlock()
		slices.Sort(seqs)
		for _, seq := range seqs {
			expired = append(expired, item{sb: sb, seq: seq})
		}
	}
	for i, it := range expired {
		slot := nowNs
		if spread > 0 {
			step := int64(i) * spreadSteps / int64(len(expired))
			slot += step * int64(spread) / spreadSteps
		}
		c := it.sb.ch
		c.mu.Lock()
		it.sb.pending[it.seq] = slot
		if slot > it.sb.recoveryUntil {
			it.sb.recoveryUntil = slot
		}
		c.mu.Unlock()
	}
	for _, sb := range subs {
		c := sb.ch
		c.mu.Lock()
		first := int64(0)
		for _, dl := range sb.pending {
			if first == 0 || dl < first {
				first = dl
			}
		}
		// The first pass runs at the sub's first slot, or at once when
		// nothing has expired (it then only releases the hold).
		d := time.Duration(0)
		if sb.recoveryUntil > 0 && first > nowNs {
			d = time.Duration(first - nowNs)
		}
		s.armAckTimer(sb, d)
		c.mu.Unlock()
	}
}
