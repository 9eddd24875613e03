// Package store defines the storage contract of stanft: the interfaces that
// the STAN protocol engine (package server) uses, the records they persist,
// and the channel limits. Concrete stores live in memstore and filestore;
// every store must pass the conformance suite in store/storetest.
//
// Durability contract (see SPEC D9 and §7.3):
//   - Store.Init and Store.AddClient are durable when they return.
//   - MsgStore.Store, and every SubStore method, may buffer; the data is
//     durable once the matching Flush returns nil. The server calls Flush
//     before it sends a PubAck or a subscription response.
//   - A store may drop old messages to honour its limits; it never rejects a
//     message because of MaxMsgs, MaxBytes or MaxAge.
//
// Concurrency: a Store and its channels are safe for concurrent use, but the
// server serialises writes to one channel (one goroutine at a time calls
// Store/Flush on a given MsgStore and the SubStore methods of that channel).
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
	// CreateChannel creates the stores of a new channel. It returns
	// ErrTooManyChannels when MaxChannels is reached and ErrAlreadyExists if
	// the channel exists.
	CreateChannel(name string) (*Channel, error)
	// DeleteChannel removes a channel and everything it holds.
	DeleteChannel(name string) error
	// Limits returns a copy of the limits the store enforces.
	Limits() Limits
	// Close flushes and closes the store. Further calls fail with ErrClosed.
	Close() error
}

// MsgStore is the message log of one channel.
type MsgStore interface {
	// Store appends m. m.Sequence is assigned by the caller and must be
	// greater than the last stored sequence; a lower one is ignored. The
	// store may drop its oldest messages to honour the channel limits, but
	// always keeps at least the newest message.
	Store(m *pb.MsgProto) error
	// Lookup returns the message with that sequence, or (nil, nil) if it is
	// not stored (never stored, or removed by limits).
	Lookup(seq uint64) (*pb.MsgProto, error)
	// FirstAndLastSequence returns the first and last stored sequences,
	// (0, 0) for an empty log. After messages expired, first may be last+1.
	FirstAndLastSequence() (first, last uint64, err error)
	// GetSequenceFromTimestamp returns the sequence of the first message
	// whose timestamp is >= ts; 0 for an empty log, last+1 if all are older.
	GetSequenceFromTimestamp(ts int64) (uint64, error)
	// State returns the number of stored messages and their size in bytes.
	State() (msgs int, bytes uint64, err error)
	// Flush makes every stored message durable (fsync when configured).
	Flush() error
	// Close releases the log's resources.
	Close() error
}

// SubStore holds the subscriptions of one channel.
type SubStore interface {
	// CreateSub stores a new subscription and sets s.ID. It returns
	// ErrTooManySubs when the channel's MaxSubscriptions is reached (offline
	// durables and shadows count).
	CreateSub(s *SubState) error
	// UpdateSub replaces the stored state of subscription s.ID.
	UpdateSub(s *SubState) error
	// DeleteSub removes a subscription and its pending set.
	DeleteSub(subID uint64) error
	// AddSeqPending records that seq was sent to the subscription.
	AddSeqPending(subID, seq uint64) error
	// AckSeqPending records that seq was acknowledged.
	AckSeqPending(subID, seq uint64) error
	// Flush makes every change durable (fsync when configured).
	Flush() error
	// Close releases the store's resources.
	Close() error
}
