package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

// pubReq is one accepted publish on its way through the io loop. Its
// slices alias the NATS message payload.
type pubReq struct {
	clientID, guid, subject, reply, data []byte
	ackInbox                             string
	recv                                 time.Time // zero when not sampled (see onPublish)
	err                                  string
	noAck                                bool
	ch                                   *channel // stored in ch, not yet flushed
}

// ioLoop is the single storage loop (SPEC §3): it stores publishes in
// batches, flushes every touched channel once per batch, delivers, and then
// sends the PubAcks. Channel deletions run in it too, so they are
// serialised with publishes.
type ioLoop struct {
	s    *Server
	in   chan pubReq
	ctl  chan func()
	quit chan struct{}
	done chan struct{}

	batch   []pubReq
	msgs    []pb.MsgProto
	batches int // processed batches, for the stop log
	pubs    int
	touched []*channel
	buf     []byte
	// arena holds copies of small message payloads for a store that keeps
	// the messages it is given (MEMORY): it then keeps a slice of a shared
	// chunk instead of each publish's whole NATS payload (one object for
	// the garbage collector per chunk instead of one per message). A chunk
	// is never reused: the store may keep pointing into it.
	arena    []byte
	useArena bool
}

// Payloads up to arenaMaxCopy bytes are copied into arena chunks of
// arenaChunk bytes.
const (
	arenaChunk   = 64 << 10
	arenaMaxCopy = 2 << 10
)

// keep returns data as the store should keep it: a copy in the arena for
// small payloads of a MEMORY store, else data itself.
func (l *ioLoop) keep(data []byte) []byte {
	if !l.useArena || len(data) == 0 || len(data) > arenaMaxCopy {
		return data
	}
	if cap(l.arena)-len(l.arena) < len(data) {
		l.arena = make([]byte, 0, arenaChunk)
	}
	n := len(l.arena)
	l.arena = append(l.arena, data...)
	return l.arena[n:len(l.arena):len(l.arena)]
}

func newIOLoop(s *Server) *ioLoop {
	l := &ioLoop{
		s:    s,
		in:   make(chan pubReq, 16384),
		ctl:  make(chan func(), 64),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	l.useArena = s.st.Type() == store.TypeMemory
	go l.run()
	return l
}

// stop processes what was already handed to the loop and stops it. The
// caller makes sure nothing more is handed to it.
func (l *ioLoop) stop() {
	close(l.quit)
	<-l.done
	l.s.log.Debug("io loop stopped", "batches", l.batches, "publishes", l.pubs)
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
//
// A store error (disk full, I/O error) fails the publishes concerned and
// nothing else: a Store error fails its message (its sequence is not
// consumed); a Flush error means the store discarded every message of the
// channel stored since its last successful flush, so the channel's next
// sequence goes back to the first of this batch and all of them fail. Those
// messages are never delivered; the server keeps serving and the next batch
// tries again. Only a fenced (or closed) store is fatal (see failFatal).
func (l *ioLoop) process() {
	s := l.s
	now := time.Now()
	// One allocation for the batch's messages; the store keeps pointers.
	l.msgs = make([]pb.MsgProto, len(l.batch))
	l.batches++
	l.pubs += len(l.batch)
	fatal := s.fatal.Load()
	var cur *channel
	for i := range l.batch {
		r := &l.batch[i]
		if fatal {
			r.noAck = true
			continue
		}
		c := cur
		if c == nil || c.name != string(r.subject) {
			// Lock order: the server lock is never taken under a channel's.
			if cur != nil {
				cur.mu.Unlock()
				cur = nil
			}
			c = s.lookupChannelBytes(r.subject)
			if c == nil {
				var errText string
				c, errText = s.lookupOrCreateChannel(string(r.subject))
				if errText != "" {
					r.err = errText
					continue
				}
			}
		}
		if c != cur {
			cur = c
			c.mu.Lock()
			if !c.inBatch {
				c.inBatch = true
				c.batchFirst, c.batchTS = c.nextSeq, c.lastTS
				l.touched = append(l.touched, c)
			}
		}
		if c.deleted {
			r.err = errChannelBeingDeleted
			continue
		}
		// One clock read per batch, yet every message of a channel gets a
		// later timestamp than the one before, as with a clock read per
		// message: a batch of n messages runs at most n ns ahead.
		ts := now.UnixNano()
		if ts <= c.lastTS {
			ts = c.lastTS + 1
		}
		m := &l.msgs[i]
		m.Sequence = c.nextSeq
		m.Subject = c.name
		if len(r.reply) > 0 {
			m.Reply = string(r.reply)
		}
		m.Data = l.keep(r.data)
		m.Timestamp = ts
		if err := c.msgs.Store(m); err != nil {
			// Limits never make Store fail: an I/O or fencing failure.
			err = fmt.Errorf("server: store message on %q: %w", c.name, err)
			if l.failFatal(err) {
				fatal = true
				r.noAck = true
				continue
			}
			s.log.Error("unable to store message, failing its publish", "channel", c.name, "error", err)
			r.err = storeFailureText(err)
			continue
		}
		r.ch = c
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
		if c.nextSeq != c.batchFirst {
			if err := c.msgs.Flush(); err != nil {
				l.flushFailed(c, fmt.Errorf("server: flush channel %q: %w", c.name, err))
			} else {
				c.flushed = c.nextSeq - 1
			}
		}
		if !s.fatal.Load() {
			c.markActivity(now)
			s.deliverNew(c)
			if err := c.flushSubs(); err != nil {
				s.log.Error("unable to flush subscription store", "channel", c.name, "error", err)
			}
		}
		c.mu.Unlock()
	}
	l.touched = l.touched[:0]
	l.sendAcks()
	l.msgs = nil
}

// flushFailed handles a failed Flush of c's messages: the store dropped
// every message stored since its last successful flush, i.e. this batch's
// messages of c. Their sequences are handed out again (no phantom gap) and
// their publishes fail, or get no ack at all when the failure is fatal.
// c.mu held.
func (l *ioLoop) flushFailed(c *channel, err error) {
	fatal := l.failFatal(err)
	if !fatal {
		l.s.log.Error("unable to flush message store, failing the batch's publishes",
			"channel", c.name, "messages", c.nextSeq-c.batchFirst, "error", err)
	}
	text := storeFailureText(err)
	for i := range l.batch {
		r := &l.batch[i]
		if r.ch != c {
			continue
		}
		r.ch = nil
		if fatal {
			r.noAck = true
		} else {
			r.err = text
		}
	}
	c.nextSeq, c.lastTS = c.batchFirst, c.batchTS
}

// failFatal reports whether a store error on the publish path is fatal: the
// store is fenced (this process may no longer write the datastore) or
// closed. Then the server fails (state FAILED, Config.OnFatal) and
// acknowledges no more publishes in this activation: a publisher retries on
// the server that takes over.
func (l *ioLoop) failFatal(err error) bool {
	if !errors.Is(err, store.ErrFenced) && !errors.Is(err, store.ErrClosed) {
		return false
	}
	l.s.fail(err)
	return true
}

// storeFailureText is the PubAck error of a publish the store failed.
func storeFailureText(err error) string {
	return errStoreFailure + ": " + err.Error()
}

func (l *ioLoop) sendAcks() {
	s := l.s
	nc := s.conns.send
	var last time.Time
	for i := range l.batch {
		r := &l.batch[i]
		if r.ackInbox != "" && !r.noAck {
			if s.trace {
				s.log.Trace(fmt.Sprintf("[Client:%s] Acking Publisher subj=%s guid=%s", r.clientID, r.subject, r.guid))
			}
			l.buf = appendPubAck(l.buf[:0], r.guid, r.err)
			_ = nc.Publish(r.ackInbox, l.buf)
			if !r.recv.IsZero() {
				last = r.recv
			}
		}
		l.batch[i] = pubReq{}
	}
	if !last.IsZero() {
		s.metrics.PubAckLatency(time.Since(last))
	}
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

// onPublish validates a PubMsg and hands it to the io loop. It runs on
// the one goroutine of the publish subscription.
func (s *Server) onPublish(m *nats.Msg) {
	if !s.enter() {
		return
	}
	defer s.exit()
	var p pubFields
	err := parsePubMsg(m.Data, &p)
	if err != nil && isCtrlMsg(m.Data) {
		return // a legacy control message: dropped, not counted
	}
	s.stats.inMsgs.Add(1)
	s.stats.inBytes.Add(int64(len(m.Data)))
	if err != nil || len(p.guid) == 0 || !s.validSubject(p.subject) || !s.knownPublisher(&p) {
		s.replyPubError(m.Reply, p.guid)
		return
	}
	if s.trace {
		s.log.Trace(fmt.Sprintf("[Client:%s] Received message from publisher subj=%s guid=%s", p.clientID, p.subject, p.guid))
	}
	r := pubReq{
		clientID: p.clientID,
		guid:     p.guid,
		subject:  p.subject,
		reply:    p.reply,
		data:     p.data,
		ackInbox: m.Reply,
	}
	// The PubAck latency metric samples one publish per batch or per
	// recvSample publishes: reading the clock for every publish costs
	// more than the rest of this function on some virtual machines.
	if pc := &s.pubCheck; pc.unstamped == 0 || len(s.io.in) == 0 {
		r.recv = time.Now()
		pc.unstamped = recvSample
	} else {
		pc.unstamped--
	}
	s.io.in <- r
}

// recvSample bounds the publishes between two receive-time stamps.
const recvSample = 64

func (s *Server) replyPubError(reply string, guid []byte) {
	if reply == "" {
		return
	}
	_ = s.conns.send.Publish(reply, appendPubAck(nil, guid, errInvalidPubReq))
}

// pubCheck caches the last publisher found registered and the last valid
// subject; it is used only by the publish subscription's goroutine.
type pubCheck struct {
	connID, clientID []byte
	gen              uint64
	subject          []byte
	unstamped        int // publishes left until the next receive-time stamp
}

// validSubject reports whether subject is a valid channel name; the last
// valid one is cached (a name's validity never changes).
func (s *Server) validSubject(subject []byte) bool {
	pc := &s.pubCheck
	if len(pc.subject) > 0 && string(pc.subject) == string(subject) {
		return true
	}
	if !store.IsChannelNameValid(string(subject), false) {
		return false
	}
	pc.subject = append(pc.subject[:0], subject...)
	return true
}

// knownPublisher reports whether the publisher is registered: by ConnID
// when the message carries one, else by client ID (SPEC §3 step 3).
func (s *Server) knownPublisher(p *pubFields) bool {
	gen := s.clientsGen.Load()
	pc := &s.pubCheck
	if pc.gen == gen && string(pc.connID) == string(p.connID) && string(pc.clientID) == string(p.clientID) &&
		(len(p.connID) > 0 || len(p.clientID) > 0) {
		return true
	}
	s.mu.RLock()
	var ok bool
	if len(p.connID) > 0 {
		_, ok = s.byConnID[string(p.connID)]
	} else {
		_, ok = s.clients[string(p.clientID)]
	}
	s.mu.RUnlock()
	if ok {
		pc.connID = append(pc.connID[:0], p.connID...)
		pc.clientID = append(pc.clientID[:0], p.clientID...)
		pc.gen = gen
	}
	return ok
}
