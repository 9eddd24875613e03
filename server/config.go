package server

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// ClusterID is the STAN cluster ID. Default "test-cluster".
	ClusterID string
	// DiscoverPrefix is the discovery subject prefix. Default "_STAN.discover".
	DiscoverPrefix string
	// ServerID identifies this server process (serverz "server_id").
	// Default: a fresh NUID.
	ServerID string
	// Version is shown in serverz "version". Default "dev".
	Version string
	// StoreLocation, when set, is logged after the store type at
	// activation (SPEC §8.9: "Store location: <dir>").
	StoreLocation string
	// NATSURL is the NATS server (or comma-separated servers) the server's
	// own connections use. Required.
	NATSURL string
	// NATSOptions are applied to each of the server's NATS connections
	// (credentials, TLS).
	NATSOptions []nats.Option
	// FT is true when the server runs in an FT group: no standalone probe
	// for another server with the same cluster ID (SPEC §1), and recovered
	// pending messages are redelivered spread over ActivationSpread.
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
	// DuplicateProbeTimeout is how long a connect with an already registered
	// client ID waits for the old client to answer (SPEC §2.2). Default 500ms.
	DuplicateProbeTimeout time.Duration
	// StandaloneProbeTimeout is how long a standalone server waits for
	// another server with the same cluster ID to answer (SPEC §1).
	// Default 250ms.
	StandaloneProbeTimeout time.Duration
	// ActivationSpread is the window over which recovered pending messages
	// whose ack deadline has passed are redelivered after an FT activation
	// (STYLE G12), instead of all at once. Used only when FT is true; 0
	// redelivers at once. Default 1s.
	ActivationSpread time.Duration
	// SubFlushInterval is how often acknowledgement and sent records that
	// are not followed by a publish are flushed to the store. Default 1s.
	SubFlushInterval time.Duration
	// OnFatal, when set, is called once per activation, from a server
	// goroutine, when storing or flushing messages fails with
	// store.ErrFenced or store.ErrClosed: this process may no longer write
	// the datastore. The server then acknowledges no more publishes and
	// the caller should deactivate it and exit or step down (the reference
	// panics). Other store errors (disk full, I/O) only fail the publishes
	// concerned. It must not block. Default: nil (the state becomes FAILED
	// only).
	OnFatal func(err error)
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

// DefaultConfig returns the reference server's defaults. NATSURL must still
// be set.
func DefaultConfig() Config {
	return Config{
		ClusterID:              "test-cluster",
		DiscoverPrefix:         "_STAN.discover",
		Version:                "dev",
		ClientHBInterval:       30 * time.Second,
		ClientHBTimeout:        10 * time.Second,
		ClientHBFailCount:      10,
		IOBatchSize:            1024,
		DuplicateProbeTimeout:  500 * time.Millisecond,
		StandaloneProbeTimeout: 250 * time.Millisecond,
		ActivationSpread:       time.Second,
		SubFlushInterval:       time.Second,
	}
}

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("server: invalid config")

var clusterIDRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Validate checks the configuration. It does not modify it; New fills in
// defaults for the optional fields (ServerID, Logger, Metrics).
func (c *Config) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s=%v: %s", ErrInvalidConfig, field, v, why)
	}
	switch {
	case !clusterIDRe.MatchString(c.ClusterID):
		return bad("ClusterID", c.ClusterID, "only alphanumeric and `-` or `_` characters allowed")
	case c.DiscoverPrefix == "":
		return bad("DiscoverPrefix", c.DiscoverPrefix, "must not be empty")
	case c.NATSURL == "":
		return bad("NATSURL", c.NATSURL, "must not be empty")
	case c.ClientHBInterval <= 0:
		return bad("ClientHBInterval", c.ClientHBInterval, "must be positive")
	case c.ClientHBTimeout <= 0:
		return bad("ClientHBTimeout", c.ClientHBTimeout, "must be positive")
	case c.ClientHBFailCount < 0:
		return bad("ClientHBFailCount", c.ClientHBFailCount, "cannot be negative")
	case c.IOBatchSize <= 0:
		return bad("IOBatchSize", c.IOBatchSize, "must be positive")
	case c.IOSleepTime < 0:
		return bad("IOSleepTime", c.IOSleepTime, "cannot be negative")
	case c.DuplicateProbeTimeout <= 0:
		return bad("DuplicateProbeTimeout", c.DuplicateProbeTimeout, "must be positive")
	case c.StandaloneProbeTimeout <= 0:
		return bad("StandaloneProbeTimeout", c.StandaloneProbeTimeout, "must be positive")
	case c.ActivationSpread < 0:
		return bad("ActivationSpread", c.ActivationSpread, "cannot be negative")
	case c.SubFlushInterval <= 0:
		return bad("SubFlushInterval", c.SubFlushInterval, "must be positive")
	}
	return nil
}

func (c *Config) fillDefaults() {
	if c.ServerID == "" {
		c.ServerID = nuid.Next()
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
}

type noMetrics struct{}

func (noMetrics) PubAckLatency(time.Duration) {}
func (noMetrics) Redeliveries(int)            {}
func (noMetrics) ClientHBFailure()            {}
