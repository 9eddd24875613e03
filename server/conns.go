package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// conns are the server's NATS connections (SPEC §1):
//   - general: discovery, pings, subscription and close requests, client
//     heartbeats and the duplicate-ID probe;
//   - pub: publish intake (_STAN.pub.<cid>.>);
//   - acks: the ack inbox of every subscription;
//   - send: PubAcks, subscription responses and message deliveries, so a
//     subscription response always precedes the first message on that
//     subscription.
type conns struct {
	general, pub, acks, send *nats.Conn

	mu   sync.Mutex
	subs []*nats.Subscription // STAN subjects; ack inboxes are per subscription
}

func (s *Server) connect(ctx context.Context) (*conns, error) {
	c := &conns{}
	var err error
	open := func(role string) *nats.Conn {
		if err != nil {
			return nil
		}
		var nc *nats.Conn
		nc, err = s.natsConnect(role)
		return nc
	}
	c.general = open("general")
	c.pub = open("pub")
	c.acks = open("acks")
	c.send = open("send")
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (s *Server) natsConnect(role string) (*nats.Conn, error) {
	name := fmt.Sprintf("_NSS-%s-%s", s.cfg.ClusterID, role)
	log := s.log
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Error(fmt.Sprintf("connection %q has been disconnected: %v", name, err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info(fmt.Sprintf("connection %q reconnected to NATS Server at %q", name, nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Error("nats asynchronous error", "connection", name, "subject", subj, "error", err)
		}),
	}
	opts = append(opts, s.cfg.NATSOptions...)
	nc, err := nats.Connect(s.cfg.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("server: connect %s to NATS: %w", name, err)
	}
	return nc, nil
}

// track remembers a STAN-subject subscription for unsubscribeAll.
func (c *conns) track(sub *nats.Subscription) {
	c.mu.Lock()
	c.subs = append(c.subs, sub)
	c.mu.Unlock()
}

func (c *conns) unsubscribeAll() {
	c.mu.Lock()
	subs := c.subs
	c.subs = nil
	c.mu.Unlock()
	for _, sub := range subs {
		_ = sub.Unsubscribe()
	}
}

// deactivateFlushTimeout bounds the final flush of the server's
// connections on deactivation. On a healthy connection it takes a round
// trip; on a silently partitioned one it would block until the timeout,
// and an FT active that stands down because it lost NATS must release the
// lock quickly so a reachable standby can serve (SPEC D7).
const deactivateFlushTimeout = 500 * time.Millisecond

// flush sends what the connections buffered (last PubAcks, deliveries),
// all in parallel, bounded by deactivateFlushTimeout.
func (c *conns) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), deactivateFlushTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, nc := range []*nats.Conn{c.send, c.general, c.acks} {
		if nc != nil && nc.IsConnected() {
			wg.Go(func() { _ = nc.FlushWithContext(ctx) })
		}
	}
	wg.Wait()
}

func (c *conns) close() {
	for _, nc := range []*nats.Conn{c.general, c.pub, c.acks, c.send} {
		if nc != nil {
			nc.Close()
		}
	}
}

// subscribeAll subscribes the STAN subjects of the recovered server info.
func (s *Server) subscribeAll() error {
	info := s.info
	c := s.conns
	type entry struct {
		nc        *nats.Conn
		subj      string
		cb        nats.MsgHandler
		unlimited bool
	}
	entries := []entry{
		{nc: c.general, subj: info.Discovery, cb: s.onConnect, unlimited: true},
		{nc: c.general, subj: info.Discovery + ".pings", cb: s.onPing, unlimited: true},
		// The subscribe-request subscription keeps the default pending
		// limits: overload drops requests (clients time out) rather than
		// growing memory without bound (SPEC §1).
		{nc: c.general, subj: info.Subscribe, cb: s.onSubscribe},
		{nc: c.general, subj: info.Unsubscribe, cb: s.onUnsubscribe, unlimited: true},
		{nc: c.general, subj: info.SubClose, cb: s.onSubClose, unlimited: true},
		{nc: c.general, subj: info.Close, cb: s.onClose, unlimited: true},
		{nc: c.pub, subj: info.Publish + ".>", cb: s.onPublish, unlimited: true},
	}
	for _, e := range entries {
		sub, err := e.nc.Subscribe(e.subj, e.cb)
		if err != nil {
			return fmt.Errorf("server: subscribe %s: %w", e.subj, err)
		}
		if e.unlimited {
			_ = sub.SetPendingLimits(-1, -1)
		}
		c.track(sub)
	}
	for _, nc := range []*nats.Conn{c.general, c.pub} {
		if err := nc.Flush(); err != nil {
			return fmt.Errorf("server: flush subscriptions: %w", err)
		}
	}
	return nil
}

// barrier waits until every message already received on the acks
// connection (and, with pubs, on the publish connection and through the io
// loop) has been processed: SPEC §1 ordering requirement before a close,
// sub close or unsubscribe. The client sent those before its request, and
// the NATS server forwarded them before the request; a flush (PING/PONG)
// on each connection makes sure they are read, and nats.Conn.Barrier that
// their callbacks returned.
func (s *Server) barrier(pubs bool) {
	wait := func(nc *nats.Conn) {
		ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
		defer cancel()
		if err := nc.FlushWithContext(ctx); err != nil {
			return
		}
		done := make(chan struct{})
		if err := nc.Barrier(func() { close(done) }); err != nil {
			return
		}
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	wait(s.conns.acks)
	if pubs {
		wait(s.conns.pub)
		s.io.sync(s.ctx)
	}
}
