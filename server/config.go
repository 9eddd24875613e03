package server

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
)

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// ClusterID is the STAN cluster ID. Default "test-cluster".
	ClusterID string
	// DiscoverPrefix is the discovery subject prefix. Default "_STAN.discover".
	DiscoverPrefix string
	// NATSURL is the NATS server (or comma-separated servers) the server's
	// own connections use.
	NATSURL string
	// NATSOptions are applied to each of the server's NATS connections
	// (credentials, TLS).
	NATSOptions []nats.Option
	// FT is true when the server runs in an FT group: no standalone probe
	// for another server with the same cluster ID (SPEC §1).
	FT bool
	// ClientHBInterval, ClientHBTimeout, ClientHBFailCount: SPEC §2.3.
	// Defaults 30s, 10s, 10.
	ClientHBInterval  time.Duration
	ClientHBTimeout   time.Duration
	ClientHBFailCount int
	// ReplaceDurable: SPEC §4.2 step 9. Default false.
	ReplaceDurable bool
	// IOBatchSize is the maximum number of publishes stored per flush.
	// Default 1024.
	IOBatchSize int
	// IOSleepTime is how long the publish loop waits to fill a batch.
	// Default 0.
	IOSleepTime time.Duration
	// Logger receives the server's logs. Default: a null logger.
	Logger hclog.Logger
	// Metrics receives data-path observations. Default: no-op.
	Metrics Metrics
}

// Metrics receives observations from the data path. Implementations must be
// cheap and safe for concurrent use.
type Metrics interface {
	// PubAckLatency is the time from receiving a publish to sending its ack.
	PubAckLatency(d time.Duration)
	// Redeliveries counts messages redelivered.
	Redeliveries(n int)
	// ClientHBFailure counts failed server-to-client heartbeats.
	ClientHBFailure()
}
