package store

import (
	"context"

	"github.com/nats-io/stan.go/pb"
)

// Store types, as shown by /streaming/storez.
const (
	TypeMemory = "MEMORY"
	TypeFile   = "FILE"
)

// ServerInfo is the identity of a datastore: the cluster ID and the subjects
// generated on first start. Recovered values are used on every later start.
type ServerInfo struct {
	ClusterID   string
	Discovery   string // _STAN.discover.<cid>
	Publish     string // _STAN.pub.<cid>
	Subscribe   string // _STAN.sub.<cid>
	Unsubscribe string // _STAN.unsub.<cid>
	Close       string // _STAN.close.<cid>
	SubClose    string // _STAN.subclose.<cid>
	AcksSubs    string // _STAN.ack.<cid> (persisted, unused)
}

// Client is a registered client connection.
type Client struct {
	ID           string
	HbInbox      string
	ConnID       []byte
	Protocol     int32
	PingInterval int32
	PingMaxOut   int32
}

// SubState is the persisted state of one subscription. For durable queue
// groups QGroup holds "<durable>:<group>" and DurableName is empty.
type SubState struct {
	ID            uint64 // assigned by SubStore.CreateSub; never reused in a channel
	ClientID      string
	QGroup        string
	Inbox         string
	AckInbox      string
	MaxInFlight   int32
	AckWaitInSecs int32
	DurableName   string
	LastSent      uint64
	IsDurable     bool
	IsClosed      bool // an offline durable or a durable queue group shadow
}

// Channel is the pair of stores that holds one channel.
type Channel struct {
	Msgs MsgStore
	Subs SubStore
}

// RecoveredState is what Store.Recover returns for a datastore that holds
// state.
type RecoveredState struct {
	Info     *ServerInfo
	Clients  []*Client
	Channels map[string]*RecoveredChannel
}

// RecoveredChannel is one recovered channel with its subscriptions.
type RecoveredChannel struct {
	Channel *Channel
	Subs    []*RecoveredSub
}

// RecoveredSub is a recovered subscription. LastSent is already
// max(stored LastSent, highest sent sequence recorded). Pending holds the
// sequences that were sent and not acknowledged.
type RecoveredSub struct {
	Sub     *SubState
	Pending map[uint64]struct{}
}

// Store is a datastore: server info, clients and channels.
type Store interface {
	// Type returns TypeMemory or TypeFile.
	Type() string
	// Recover loads the persisted state. It returns (nil, nil) when there is
	// nothing to recover (a fresh datastore, or a memory store). It must be
	// called at most once, before any other write.
	Recover(ctx context.Context) (*RecoveredState, error)
	// Init persists the server info; durable on return.
	Init(info *ServerInfo) error
	// AddClient persists a client registration, replacing any record with
	// the same ID; durable on return.
	AddClient(c *Client) error
	// DeleteClient removes a client registration. Unknown IDs are ignored.
	DeleteClient(clientID string) error
	// CreateChannel creates the stores of a new channel. It refuses names
	// that store.IsChannelNameValid(name, false) rejects, and returns
	// ErrTooManyChannels when MaxChannels is reached and ErrAlreadyExists if
	// the channel exists.
	CreateChannel(name string) (*Channel, error)
	// DeleteChannel removes a channel and everything it holds, and closes
	// its stores. It returns ErrNotFound for an unknown channel.
	DeleteChannel(name string) error
	// Limits returns a copy of the limits the store enforces.
	Limits() Limits
	// Close flushes and closes the store and its channels. Further calls,
	// Close included, fail with ErrClosed.
	Close() error
}

// MsgStore is the message log of one channel.
type MsgStore interface {
	// Store appends m and takes ownership of it. m.Sequence is assigned by
	// the caller and must be greater than the last stored sequence; a lower
	// or equal one is ignored (nil error). The store may drop its oldest
	// messages to honour MaxMsgs/MaxBytes, but always keeps the newest.
	Store(m *pb.MsgProto) error
	// Lookup returns the message with that sequence, or (nil, nil) if it is
	// not stored (never stored, or removed by limits). The result is
	// read-only: it may be the stored message itself.
	Lookup(seq uint64) (*pb.MsgProto, error)
	// FirstAndLastSequence returns the first and last stored sequences,
	// (0, 0) if nothing was ever stored, and (last+1, last) once every
	// message expired.
	FirstAndLastSequence() (first, last uint64, err error)
	// GetSequenceFromTimestamp returns the sequence of the first stored
	// message whose timestamp is >= ts; 0 if nothing was ever stored, last+1
	// if every stored message is older (or none is left).
	GetSequenceFromTimestamp(ts int64) (uint64, error)
	// State returns the number of stored messages and their size in bytes.
	State() (msgs int, bytes uint64, err error)
	// Flush makes every stored message durable (fsync when configured).
	// On error, every message stored since the last successful Flush is
	// discarded (the server rolls its sequence back and answers those
	// publishes with an error); earlier messages are untouched. An error
	// that wraps ErrFenced means this process may no longer write at all.
	Flush() error
	// Close releases the log's resources. It is idempotent; every other
	// method then fails with ErrClosed.
	Close() error
}

// SubStore holds the subscriptions of one channel.
type SubStore interface {
	// CreateSub stores a new subscription and sets s.ID (any ID the caller
	// set is overwritten). It returns
	// ErrTooManySubs when the channel's MaxSubscriptions is reached (offline
	// durables and shadows count).
	CreateSub(s *SubState) error
	// UpdateSub replaces the stored state of subscription s.ID. It returns
	// ErrNotFound if the channel holds no such subscription.
	UpdateSub(s *SubState) error
	// DeleteSub removes a subscription and its pending set. Unknown IDs are
	// ignored.
	DeleteSub(subID uint64) error
	// AddSeqPending records that seq was sent to the subscription. Unknown
	// subscription IDs are ignored.
	AddSeqPending(subID, seq uint64) error
	// AckSeqPending records that seq was acknowledged. Unknown
	// subscriptions and sequences are ignored.
	AckSeqPending(subID, seq uint64) error
	// Flush makes every change durable (fsync when configured).
	Flush() error
	// Close releases the store's resources. It is idempotent; every other
	// method then fails with ErrClosed.
	Close() error
}
