package server

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// client is a registered client connection.
type client struct {
	rec      store.Client // immutable after registration
	hbFailed atomic.Bool  // the last heartbeat failed (SPEC §2.3)

	mu      sync.Mutex
	subs    []*sub
	closed  bool
	hbTimer *time.Timer
	hbFails int
}

func (cl *client) stopHB() {
	cl.mu.Lock()
	if cl.hbTimer != nil {
		cl.hbTimer.Stop()
	}
	cl.mu.Unlock()
}

// addSub links sb to the client; false if the client is closed.
func (cl *client) addSub(sb *sub) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.closed {
		return false
	}
	cl.subs = append(cl.subs, sb)
	return true
}

func (cl *client) removeSub(sb *sub) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for i, x := range cl.subs {
		if x == sb {
			cl.subs = append(cl.subs[:i], cl.subs[i+1:]...)
			return
		}
	}
}

var clientIDRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// onConnect handles a ConnectRequest on the discovery subject (SPEC §2.1).
func (s *Server) onConnect(m *nats.Msg) {
	if !s.enter() {
		return
	}
	defer s.exit()
	req := &pb.ConnectRequest{}
	if err := req.Unmarshal(m.Data); err != nil || req.HeartbeatInbox == "" {
		s.replyConnect(m.Reply, &pb.ConnectResponse{Error: errInvalidConnReq})
		return
	}
	if !clientIDRe.MatchString(req.ClientID) {
		s.replyConnect(m.Reply, &pb.ConnectResponse{Error: errInvalidClientID})
		return
	}
	s.connectMu.Lock()
	defer s.connectMu.Unlock()
	s.mu.Lock()
	if s.probing[req.ClientID] {
		s.mu.Unlock()
		s.log.Debug(fmt.Sprintf("[Client:%s] Connect failed; already connected", req.ClientID))
		s.replyConnect(m.Reply, &pb.ConnectResponse{Error: errClientIDRegistered})
		return
	}
	old := s.clients[req.ClientID]
	if old != nil {
		s.probing[req.ClientID] = true
		s.mu.Unlock()
		reply := m.Reply
		if !s.goTracked(func() { s.probeDuplicate(old, req, reply) }) {
			s.clearProbe(req.ClientID)
		}
		return
	}
	s.mu.Unlock()
	s.registerClient(req, m.Reply)
}

func (s *Server) clearProbe(id string) {
	s.mu.Lock()
	delete(s.probing, id)
	s.mu.Unlock()
}

// probeDuplicate asks the registered client with the same ID whether it is
// still alive (SPEC §2.2), and replaces it if it does not answer.
func (s *Server) probeDuplicate(old *client, req *pb.ConnectRequest, reply string) {
	defer s.clearProbe(req.ClientID)
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DuplicateProbeTimeout)
	defer cancel()
	_, err := s.conns.general.RequestWithContext(ctx, old.rec.HbInbox, nil)
	if s.ctx.Err() != nil {
		return
	}
	if err == nil {
		s.log.Debug(fmt.Sprintf("[Client:%s] Connect failed; already connected", req.ClientID))
		s.replyConnect(reply, &pb.ConnectResponse{Error: errClientIDRegistered})
		return
	}
	s.log.Debug("replacing client that does not answer", "client", req.ClientID)
	s.closeClient(req.ClientID)
	s.connectMu.Lock()
	defer s.connectMu.Unlock()
	s.registerClient(req, reply)
}

// registerClient persists the client, arms its heartbeat and answers.
func (s *Server) registerClient(req *pb.ConnectRequest, reply string) {
	rec := store.Client{
		ID:           req.ClientID,
		HbInbox:      req.HeartbeatInbox,
		ConnID:       append([]byte(nil), req.ConnID...),
		Protocol:     req.Protocol,
		PingInterval: req.PingInterval,
		PingMaxOut:   req.PingMaxOut,
	}
	// Durable before the response (store.Store.AddClient contract), so the
	// client survives a failover.
	if err := s.st.AddClient(&rec); err != nil {
		s.log.Error("unable to store client", "client", rec.ID, "error", err)
		s.replyConnect(reply, &pb.ConnectResponse{Error: err.Error()})
		return
	}
	cl := &client{rec: rec}
	s.mu.Lock()
	s.clients[rec.ID] = cl
	if len(rec.ConnID) > 0 {
		s.byConnID[string(rec.ConnID)] = cl
	}
	s.mu.Unlock()
	s.armHB(cl, s.cfg.ClientHBInterval)
	info := s.info
	resp := &pb.ConnectResponse{
		PubPrefix:        info.Publish,
		SubRequests:      info.Subscribe,
		UnsubRequests:    info.Unsubscribe,
		CloseRequests:    info.Close,
		SubCloseRequests: info.SubClose,
		Protocol:         1,
	}
	if req.Protocol >= 1 {
		resp.PingRequests = info.Discovery + ".pings"
		resp.PingInterval = req.PingInterval
		resp.PingMaxOut = req.PingMaxOut
	}
	s.log.Debug(fmt.Sprintf("[Client:%s] Connected (Inbox=%s)", rec.ID, rec.HbInbox))
	s.replyConnect(reply, resp)
}

func (s *Server) replyConnect(reply string, resp *pb.ConnectResponse) {
	if reply == "" {
		return
	}
	b, err := resp.Marshal()
	if err != nil {
		return
	}
	_ = s.conns.general.Publish(reply, b)
}

// armHB (re)arms the client's heartbeat timer.
func (s *Server) armHB(cl *client, d time.Duration) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.closed {
		return
	}
	if cl.hbTimer == nil {
		cl.hbTimer = time.AfterFunc(d, func() { s.checkHB(cl) })
		return
	}
	cl.hbTimer.Reset(d)
}

// checkHB sends one heartbeat to the client (SPEC §2.3).
func (s *Server) checkHB(cl *client) {
	if !s.enter() {
		return
	}
	defer s.exit()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ClientHBTimeout)
	_, err := s.conns.general.RequestWithContext(ctx, cl.rec.HbInbox, nil)
	cancel()
	if s.ctx.Err() != nil {
		return
	}
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return
	}
	if err == nil {
		cl.hbFails = 0
		cl.hbFailed.Store(false)
	} else {
		cl.hbFails++
		cl.hbFailed.Store(true)
		s.metrics.ClientHBFailure()
	}
	fails := cl.hbFails
	cl.mu.Unlock()
	if fails > s.cfg.ClientHBFailCount {
		s.log.Error(fmt.Sprintf("[Client:%s] Timed out on heartbeats", cl.rec.ID))
		s.closeClientIf(cl)
		return
	}
	s.armHB(cl, s.cfg.ClientHBInterval)
}

// onPing answers a client PING (SPEC §2.4).
func (s *Server) onPing(m *nats.Msg) {
	if !s.enter() {
		return
	}
	defer s.exit()
	var ping pb.Ping
	if m.Reply == "" || len(m.Data) == 0 || ping.Unmarshal(m.Data) != nil {
		return
	}
	var cl *client
	if len(ping.ConnID) > 0 {
		s.mu.RLock()
		cl = s.byConnID[string(ping.ConnID)]
		s.mu.RUnlock()
	}
	if cl == nil {
		resp := pb.PingResponse{Error: errClientReplaced}
		b, _ := resp.Marshal()
		_ = s.conns.general.Publish(m.Reply, b)
		return
	}
	_ = s.conns.general.Publish(m.Reply, nil)
	if cl.hbFailed.Load() {
		s.armHB(cl, time.Millisecond)
	}
}

// onClose handles a connection CloseRequest (SPEC §2.5).
func (s *Server) onClose(m *nats.Msg) {
	if !s.enter() {
		return
	}
	defer s.exit()
	var req pb.CloseRequest
	if err := req.Unmarshal(m.Data); err != nil {
		s.replyClose(m.Reply, errInvalidCloseReq)
		return
	}
	// Acks and publishes the client sent before closing are processed first.
	s.barrier(true)
	if s.ctx.Err() != nil {
		return // deactivated meanwhile: change nothing
	}
	if !s.closeClient(req.ClientID) {
		s.replyClose(m.Reply, errUnknownClient)
		return
	}
	s.replyClose(m.Reply, "")
}

func (s *Server) replyClose(reply, errText string) {
	if reply == "" {
		return
	}
	resp := pb.CloseResponse{Error: errText}
	b, _ := resp.Marshal()
	_ = s.conns.general.Publish(reply, b)
}

// closeClient unregisters a client and closes its subscriptions with
// "close" semantics (SPEC §5). It returns false for an unknown client.
func (s *Server) closeClient(id string) bool {
	s.mu.Lock()
	cl := s.clients[id]
	s.mu.Unlock()
	if cl == nil {
		return false
	}
	return s.closeClientIf(cl)
}

// closeClientIf closes cl if it is still the registered client of its ID.
func (s *Server) closeClientIf(cl *client) bool {
	id := cl.rec.ID
	s.mu.Lock()
	if s.clients[id] != cl {
		s.mu.Unlock()
		return false
	}
	delete(s.clients, id)
	s.clientsGen.Add(1)
	if len(cl.rec.ConnID) > 0 && s.byConnID[string(cl.rec.ConnID)] == cl {
		delete(s.byConnID, string(cl.rec.ConnID))
	}
	s.mu.Unlock()
	cl.mu.Lock()
	cl.closed = true
	subs := cl.subs
	cl.subs = nil
	if cl.hbTimer != nil {
		cl.hbTimer.Stop()
	}
	cl.mu.Unlock()
	if err := s.st.DeleteClient(id); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("unable to delete client", "client", id, "error", err)
	}
	for _, sb := range subs {
		c := sb.ch
		c.mu.Lock()
		if !sb.removed && !sb.offline {
			s.removeSub(sb, false)
		}
		if err := c.flushSubs(); err != nil {
			s.log.Error("unable to flush subscription store", "channel", c.name, "error", err)
		}
		c.mu.Unlock()
	}
	s.log.Debug(fmt.Sprintf("[Client:%s] Closed (Inbox=%s)", id, cl.rec.HbInbox))
	return true
}
