package server

import "errors"

// Protocol error texts sent to clients (SPEC §6). They must stay byte-exact:
// clients surface them verbatim.
const (
	errInvalidConnReq      = "stan: invalid connection request"
	errInvalidClientID     = "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed"
	errClientIDRegistered  = "stan: clientID already registered"
	errInvalidPubReq       = "stan: invalid publish request"
	errInvalidSubReq       = "stan: invalid subscription request"
	errMissingClientID     = "stan: clientID missing"
	errInvalidAckWait      = "stan: invalid ack wait time, should be >= 1s"
	errInvalidMaxInflight  = "stan: invalid MaxInflight, should be >= 1"
	errInvalidStart        = "stan: invalid start position"
	errInvalidSubject      = "stan: invalid subject"
	errUnknownClient       = "stan: unknown clientID"
	errDuplicateDurable    = "stan: duplicate durable registration"
	errInvalidDurableName  = "stan: durable name of a durable queue subscriber can't contain the character ':'"
	errInvalidUnsubReq     = "stan: invalid unsubscribe request"
	errUnknownChannel      = "stan: unknown channel"
	errInvalidSub          = "stan: invalid subscription"
	errInvalidCloseReq     = "stan: invalid close request"
	errChannelBeingDeleted = "stan: channel is being deleted"
	errClientReplaced      = "client has been replaced or is no longer registered"
	// errStoreFailure prefixes the PubAck or SubscriptionResponse error of a
	// request the store failed (disk full, I/O error); the store's error
	// follows. stanft only: the reference panics instead.
	errStoreFailure        = "stan: store failure"
	errChannelCaseClashFmt = "rejecting channel \"%s\" because channel \"%s\" alreay exists (different cases not allowed)"
)

// Errors returned by the Server's lifecycle methods.
var (
	// ErrActive is returned by Activate when the server is already active.
	ErrActive = errors.New("server: already active")
	// ErrClosed is returned by Activate after Close.
	ErrClosed = errors.New("server: closed")
)
