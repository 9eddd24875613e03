package server

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// pubReq is one accepted publish on its way through the io loop.
type pubReq struct {
	pm    pb.PubMsg
	reply string
	recv  time.Time
	err   string
	noAck bool
}

// ioLoop is the single storage loop (SPEC §3): it stores publishes in
// batches, flushes every touched channel once per batch, delivers, and then
// sends the PubAcks. Channel deletions run in it too, so they are
// serialised with publishes.
type ioLoop struct {
	s    *Server
	in   chan *pubReq
	ctl  chan func()
	quit chan struct{}
	done chan struct{}

	batch   []*pubReq
	touched []*channel
	buf     []byte
}

func newIOLoop(s *Server) *ioLoop {
	l := &ioLoop{
		s:    s,
		in:   make(chan *pubReq, 65536),
		ctl:  make(chan func(), 64),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	go l.run()
	return l
}

// stop processes what was already handed to the loop and stops it. The
// caller makes sure nothing more is handed to it.
func (l *ioLoop) stop() {
	close(l.quit)
	<-l.done
}

// control runs f in the loop. It gives up when the server deactivates.
func (l *ioLoop) control(f func()) {
	select {
	case l.ctl <- f:
	case <-l.quit:
	case <-l.s.ctx.Done():
	}
}

// sync returns once every publish handed to the loop before the call has
// been stored and acknowledged.
func (l *ioLoop) sync(ctx context.Context) {
	done := make(chan struct{})
	select {
	case l.ctl <- func() { close(done) }:
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (l *ioLoop) run() {
	defer close(l.done)
	s := l.s
	flushTick := time.NewTicker(s.cfg.SubFlushInterval)
	defer flushTick.Stop()
	for {
		select {
		case r := <-l.in:
			l.batch = append(l.batch[:0], r)
			l.fill()
			if s.cfg.IOSleepTime > 0 && len(l.batch) < s.cfg.IOBatchSize {
				time.Sleep(s.cfg.IOSleepTime)
				l.fill()
			}
			l.process()
		case f := <-l.ctl:
			// Publishes received before the control request go first.
			l.drain()
			f()
		case <-flushTick.C:
			l.flushDirty()
		case <-l.quit:
			l.drain()
			return
		}
	}
}

// fill adds queued publishes to the batch without blocking.
func (l *ioLoop) fill() {
	for len(l.batch) < l.s.cfg.IOBatchSize {
		select {
		case r := <-l.in:
			l.batch = append(l.batch, r)
		default:
			return
		}
	}
}

// drain processes every queued publish.
func (l *ioLoop) drain() {
	for {
		l.batch = l.batch[:0]
		l.fill()
		if len(l.batch) == 0 {
			return
		}
		l.process()
	}
}

// process stores, flushes, delivers and acknowledges one batch.
func (l *ioLoop) process() {
	s := l.s
	now := time.Now()
	var cur *channel
	for _, r := range l.batch {
		c := cur
		if c == nil || c.name != r.pm.Subject {
			// Lock order: the server lock is never taken under a channel's.
			if cur != nil {
				cur.mu.Unlock()
				cur = nil
			}
			var errText string
			c, errText = s.lookupOrCreateChannel(r.pm.Subject)
			if errText != "" {
				r.err = errText
				continue
			}
		}
		if c != cur {
			cur = c
			c.mu.Lock()
			if !c.inBatch {
				c.inBatch = true
				l.touched = append(l.touched, c)
			}
		}
		if c.deleted {
			r.err = errChannelBeingDeleted
			continue
		}
		ts := now.UnixNano()
		if ts < c.lastTS {
			ts = c.lastTS
		}
		m := &pb.MsgProto{
			Sequence:  c.nextSeq,
			Subject:   r.pm.Subject,
			Reply:     r.pm.Reply,
			Data:      r.pm.Data,
			Timestamp: ts,
		}
		if err := c.msgs.Store(m); err != nil {
			s.log.Error("unable to store message", "channel", c.name, "error", err)
			r.err = err.Error()
			continue
		}
		c.nextSeq++
		c.lastTS = ts
	}
	if cur != nil {
		cur.mu.Unlock()
	}
	for _, c := range l.touched {
		c.mu.Lock()
		c.inBatch = false
		// The messages are durable before they are delivered or acked.
		if err := c.msgs.Flush(); err != nil {
			s.log.Error("unable to flush message store, not acknowledging", "channel", c.name, "error", err)
			s.SetState(StateFailed)
			for _, r := range l.batch {
				if r.pm.Subject == c.name {
					r.noAck = true
				}
			}
			c.mu.Unlock()
			continue
		}
		c.markActivity(now)
		s.deliverNew(c)
		if err := c.flushSubs(); err != nil {
			s.log.Error("unable to flush subscription store", "channel", c.name, "error", err)
		}
		c.mu.Unlock()
	}
	l.touched = l.touched[:0]
	l.sendAcks()
}

func (l *ioLoop) sendAcks() {
	s := l.s
	nc := s.conns.send
	var last time.Time
	for i, r := range l.batch {
		if r.reply != "" && !r.noAck {
			ack := pb.PubAck{Guid: r.pm.Guid, Error: r.err}
			l.buf = marshalPubAck(l.buf, &ack)
			_ = nc.Publish(r.reply, l.buf)
			last = r.recv
		}
		l.batch[i] = nil
	}
	if !last.IsZero() {
		s.metrics.PubAckLatency(time.Since(last))
	}
}

func marshalPubAck(buf []byte, ack *pb.PubAck) []byte {
	n := ack.Size()
	if cap(buf) < n {
		buf = make([]byte, n, 2*n)
	}
	buf = buf[:n]
	_, _ = ack.MarshalToSizedBuffer(buf)
	return buf
}

// flushDirty flushes sub stores with unflushed ack or sent records.
func (l *ioLoop) flushDirty() {
	s := l.s
	s.mu.RLock()
	chans := make([]*channel, 0, len(s.channels))
	for _, c := range s.channels {
		chans = append(chans, c)
	}
	s.mu.RUnlock()
	for _, c := range chans {
		c.mu.Lock()
		if err := c.flushSubs(); err != nil {
			s.log.Error("unable to flush subscription store", "channel", c.name, "error", err)
		}
		c.mu.Unlock()
	}
}

// onPublish validates a PubMsg and hands it to the io loop.
func (s *Server) onPublish(m *nats.Msg) {
	if !s.enter() {
		return
	}
	defer s.exit()
	s.stats.inMsgs.Add(1)
	s.stats.inBytes.Add(int64(len(m.Data)))
	r := &pubReq{reply: m.Reply, recv: time.Now()}
	if err := r.pm.Unmarshal(m.Data); err != nil || r.pm.Guid == "" ||
		!store.IsChannelNameValid(r.pm.Subject, false) || !s.knownPublisher(&r.pm) {
		s.replyPubError(m.Reply, r.pm.Guid)
		return
	}
	s.io.in <- r
}

func (s *Server) replyPubError(reply, guid string) {
	if reply == "" {
		return
	}
	ack := pb.PubAck{Guid: guid, Error: errInvalidPubReq}
	b, err := ack.Marshal()
	if err != nil {
		return
	}
	_ = s.conns.send.Publish(reply, b)
}

// knownPublisher reports whether the publisher is registered: by ConnID
// when the message carries one, else by client ID (SPEC §3 step 3).
func (s *Server) knownPublisher(pm *pb.PubMsg) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(pm.ConnID) > 0 {
		_, ok := s.byConnID[string(pm.ConnID)]
		return ok
	}
	_, ok := s.clients[pm.ClientID]
	return ok
}
