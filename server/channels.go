package server

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stanft/stanft/store"
)

// channel is the runtime state of one channel. Every field below mu is
// guarded by mu, which also serialises all calls to the channel's stores.
type channel struct {
	name          string
	maxInactivity time.Duration

	mu       sync.Mutex
	msgs     store.MsgStore
	subStore store.SubStore
	nextSeq  uint64
	lastTS   int64
	// flushed is the last sequence known durable: messages after it are
	// stored but not flushed (the io loop's batch) and are neither
	// delivered nor used as a start position, since a failed flush drops
	// them and hands their sequences out again.
	flushed uint64
	// batchFirst and batchTS are nextSeq and lastTS when the current io
	// batch first touched the channel (rolled back to on a failed flush).
	batchFirst uint64
	batchTS    int64

	plain    []*sub            // online plain and durable (non-queue) subs
	durables map[string]*sub   // durable key → online or offline durable
	groups   map[string]*group // queue group key → group
	all      map[uint64]*sub   // every stored subscription, by ID
	acks     map[string]*sub   // ack inbox → online subscription
	active   int               // online subscriptions (inactivity rule)
	deleted  bool
	dirty    bool // sub store has unflushed records
	inBatch  bool // touched by the current io batch
	scratch  []byte

	lastActivity time.Time
	inactTimer   *time.Timer
}

func newChannel(name string, sc *store.Channel, lim store.ChannelLimits) *channel {
	return &channel{
		name:          name,
		maxInactivity: lim.MaxInactivity,
		msgs:          sc.Msgs,
		subStore:      sc.Subs,
		nextSeq:       1,
		durables:      make(map[string]*sub),
		groups:        make(map[string]*group),
		all:           make(map[uint64]*sub),
		acks:          make(map[string]*sub),
		lastActivity:  time.Now(),
	}
}

// firstLast returns the first and last stored sequences (0,0 when empty),
// ignoring messages not yet flushed (see flushed). c.mu held.
func (c *channel) firstLast() (uint64, uint64) {
	first, last, err := c.msgs.FirstAndLastSequence()
	if err != nil {
		return 0, 0
	}
	if last > c.flushed {
		last = c.flushed
		if first > last+1 {
			first = last + 1
		}
	}
	return first, last
}

// stopTimers stops the channel's and its subscriptions' timers. c.mu held.
func (c *channel) stopTimers() {
	if c.inactTimer != nil {
		c.inactTimer.Stop()
	}
	for _, sb := range c.all {
		sb.stopTimer()
	}
}

// flushSubs flushes the sub store if it has unflushed records. c.mu held.
func (c *channel) flushSubs() error {
	if !c.dirty {
		return nil
	}
	c.dirty = false
	return c.subStore.Flush()
}

// lookupChannel returns an existing channel or nil.
func (s *Server) lookupChannel(name string) *channel {
	s.mu.RLock()
	c := s.channels[name]
	s.mu.RUnlock()
	return c
}

// lookupChannelBytes is lookupChannel without allocating a string.
func (s *Server) lookupChannelBytes(name []byte) *channel {
	s.mu.RLock()
	c := s.channels[string(name)]
	s.mu.RUnlock()
	return c
}

// lookupOrCreateChannel returns the channel name, creating it if needed.
// The error text is sent to clients (SPEC §3 step 1).
func (s *Server) lookupOrCreateChannel(name string) (*channel, string) {
	if c := s.lookupChannel(name); c != nil {
		return c, ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channels[name]; c != nil {
		return c, ""
	}
	if _, ok := s.deleting[name]; ok {
		// The reference keeps a channel being deleted in its list and
		// fails its lookups; without this a subscription would wait on
		// the store for the whole deletion, then make a new channel.
		return nil, errChannelBeingDeleted
	}
	lower := strings.ToLower(name)
	if other, ok := s.lowerNames[lower]; ok {
		return nil, fmt.Sprintf(errChannelCaseClashFmt, name, other)
	}
	sc, err := s.st.CreateChannel(name)
	if err != nil {
		if !errors.Is(err, store.ErrTooManyChannels) {
			s.log.Error("unable to create channel", "channel", name, "error", err)
		}
		return nil, err.Error()
	}
	c := s.addChannelLocked(name, sc)
	s.log.Info(fmt.Sprintf("Channel %q has been created", name))
	c.mu.Lock()
	s.armInactivity(c)
	c.mu.Unlock()
	return c, ""
}

// addChannelLocked registers a channel; s.mu held.
func (s *Server) addChannelLocked(name string, sc *store.Channel) *channel {
	c := newChannel(name, sc, s.limits.ForChannel(name))
	s.channels[name] = c
	s.lowerNames[strings.ToLower(name)] = name
	return c
}

// armInactivity (re)starts the inactivity timer when the channel has a
// max_inactivity limit and no active subscription. c.mu held.
func (s *Server) armInactivity(c *channel) {
	if c.maxInactivity <= 0 || c.deleted || c.active > 0 {
		return
	}
	d := c.maxInactivity - time.Since(c.lastActivity)
	if d < 0 {
		d = 0
	}
	if c.inactTimer == nil {
		c.inactTimer = time.AfterFunc(d, func() { s.onInactivity(c) })
		return
	}
	c.inactTimer.Reset(d)
}

func (s *Server) onInactivity(c *channel) {
	if !s.enter() {
		return
	}
	defer s.exit()
	c.mu.Lock()
	expired := !c.deleted && c.active == 0 && time.Since(c.lastActivity) >= c.maxInactivity
	if !expired {
		s.armInactivity(c)
	}
	c.mu.Unlock()
	if expired {
		// Deletion is serialised with publishes: it runs in the io loop.
		s.io.control(func() { s.deleteInactive(c) })
	}
}

// deleteInactive deletes c if it is still inactive. Runs in the io loop.
func (s *Server) deleteInactive(c *channel) {
	s.mu.Lock()
	c.mu.Lock()
	if c.deleted || c.active > 0 || time.Since(c.lastActivity) < c.maxInactivity || s.channels[c.name] != c {
		s.armInactivity(c)
		c.mu.Unlock()
		s.mu.Unlock()
		return
	}
	c.deleted = true
	delete(s.channels, c.name)
	delete(s.lowerNames, strings.ToLower(c.name))
	s.deleting[c.name] = struct{}{}
	s.mu.Unlock()
	c.stopTimers()
	err := s.st.DeleteChannel(c.name)
	c.mu.Unlock()
	s.mu.Lock()
	delete(s.deleting, c.name)
	s.mu.Unlock()
	if err != nil {
		s.log.Error("unable to delete channel", "channel", c.name, "error", err)
		return
	}
	s.log.Info(fmt.Sprintf("Channel %q has been deleted", c.name))
}

// markActivity records a publish or subscription activity. c.mu held.
func (c *channel) markActivity(now time.Time) {
	c.lastActivity = now
}
