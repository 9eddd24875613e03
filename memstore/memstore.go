package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/store"
)

// Store is a store.Store that keeps everything in memory.
type Store struct {
	limits store.Limits
	log    hclog.Logger

	mu       sync.Mutex
	closed   bool
	info     *store.ServerInfo
	clients  map[string]*store.Client
	channels map[string]*channel
}

type channel struct {
	msgs *msgStore
	subs *subStore
	pub  *store.Channel
}

var _ store.Store = (*Store)(nil)

// New returns an empty memory store. It fails if cfg does not validate.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Store{
		limits:   cfg.Limits.Clone(),
		log:      log.Named("memstore"),
		clients:  make(map[string]*store.Client),
		channels: make(map[string]*channel),
	}, nil
}

// Type returns store.TypeMemory.
func (s *Store) Type() string { return store.TypeMemory }

// Recover returns (nil, nil): a memory store has nothing to recover.
func (s *Store) Recover(ctx context.Context) (*store.RecoveredState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	return nil, nil
}

// Init records the server info.
func (s *Store) Init(info *store.ServerInfo) error {
	if info == nil {
		return fmt.Errorf("memstore: init: nil server info")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	c := *info
	s.info = &c
	return nil
}

// AddClient records a client, replacing any client with the same ID.
func (s *Store) AddClient(c *store.Client) error {
	if c == nil {
		return fmt.Errorf("memstore: add client: nil client")
	}
	cc := *c
	cc.ConnID = append([]byte(nil), c.ConnID...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.clients[c.ID] = &cc
	return nil
}

// DeleteClient removes a client; unknown IDs are ignored.
func (s *Store) DeleteClient(clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	delete(s.clients, clientID)
	return nil
}

// CreateChannel creates the message log and subscription store of name.
// Invalid names (store.IsChannelNameValid, no wildcards) are refused.
func (s *Store) CreateChannel(name string) (*store.Channel, error) {
	if !store.IsChannelNameValid(name, false) {
		return nil, fmt.Errorf("memstore: create channel: invalid name %q", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	if _, ok := s.channels[name]; ok {
		return nil, fmt.Errorf("memstore: channel %q: %w", name, store.ErrAlreadyExists)
	}
	if s.limits.MaxChannels > 0 && len(s.channels) >= s.limits.MaxChannels {
		return nil, store.ErrTooManyChannels
	}
	lim := s.limits.ForChannel(name)
	c := &channel{
		msgs: newMsgStore(name, lim, s.log),
		subs: newSubStore(lim),
	}
	c.pub = &store.Channel{Msgs: c.msgs, Subs: c.subs}
	s.channels[name] = c
	return c.pub, nil
}

// DeleteChannel closes and removes a channel.
func (s *Store) DeleteChannel(name string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	c, ok := s.channels[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("memstore: channel %q: %w", name, store.ErrNotFound)
	}
	delete(s.channels, name)
	s.mu.Unlock()
	c.close()
	return nil
}

// Limits returns a copy of the store's limits.
func (s *Store) Limits() store.Limits { return s.limits.Clone() }

// Close closes every channel. Further calls fail with store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.closed = true
	chans := s.channels
	s.channels = nil
	s.mu.Unlock()
	for _, c := range chans {
		c.close()
	}
	return nil
}

func (c *channel) close() {
	_ = c.msgs.Close()
	_ = c.subs.Close()
}
