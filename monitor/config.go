package monitor

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults used by DefaultConfig and applied by New to zero fields.
const (
	// DefaultListLimit is the page size of clientsz and channelsz when the
	// request gives no positive limit (SPEC §9).
	DefaultListLimit = 1024
	// DefaultMaxChannelMetrics bounds the number of channels exported as
	// nss_chan_* series per scrape.
	DefaultMaxChannelMetrics = 1024
	// DefaultShutdownTimeout bounds a graceful HTTP shutdown in Serve.
	DefaultShutdownTimeout = 5 * time.Second
)

// ErrNoSource is returned by New when Config.Source is nil.
var ErrNoSource = errors.New("monitor: Config.Source is required")

// Health answers the Kubernetes probes. It is implemented by cmd/stanft from
// the elector and server state; monitor only maps answers to HTTP codes.
type Health interface {
	// Live returns nil while the process and its elector loop make progress
	// (standby included). A non-nil error makes /healthz return 503.
	Live() error
	// Ready returns nil when the server can do its job. role is "" (any
	// role: a recovered active, or a standby connected to NATS and able to
	// take over) or "active" (only a recovered, serving active). A healthy
	// standby must be ready for role "": rollouts stall otherwise.
	Ready(role string) error
}

// Config configures a Monitor. Start from DefaultConfig.
type Config struct {
	// Source is the read-only server view. Required.
	Source Source
	// Health answers /healthz and /readyz. Default: live always; ready for
	// role "" always and for role "active" when Serverz().State is
	// FT_ACTIVE or STANDALONE.
	Health Health
	// NATSHandler serves every path the monitor does not (/varz, /connz, …)
	// so the NATS endpoints stay on the same port. Use NATSHandler(ns) or
	// ns.HTTPHandler(). Default nil: those paths return 404.
	NATSHandler http.Handler
	// Logger receives the monitor's logs. Default: a null logger.
	Logger hclog.Logger
	// Registry is the Prometheus registry /metrics serves. New registers the
	// Source collector, Metrics, and the Go runtime and process collectors
	// in it (already-registered collectors are kept). Default: a new one.
	Registry *prometheus.Registry
	// Metrics are stanft's own instruments (FT, publish, fsync). Default:
	// NewMetrics(). Pass one built earlier when server/ft/filestore need it
	// before the Source exists.
	Metrics *Metrics
	// PerSubscriptionMetrics adds the nss_chan_subs_* series labelled per
	// subscription (client_id, inbox, queue_name, is_durable, is_offline), as
	// prometheus-nats-exporter does. Off by default: one series per
	// subscription can be a lot.
	PerSubscriptionMetrics bool
	// MaxChannelMetrics bounds the channels exported per scrape (first ones
	// by name). Default DefaultMaxChannelMetrics.
	MaxChannelMetrics int
	// ShutdownTimeout bounds the graceful HTTP shutdown done by Serve.
	// Default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

// DefaultConfig returns a Config with every default set; Source must still
// be filled in.
func DefaultConfig() Config {
	return Config{
		Logger:            hclog.NewNullLogger(),
		MaxChannelMetrics: DefaultMaxChannelMetrics,
		ShutdownTimeout:   DefaultShutdownTimeout,
	}
}

// withDefaults fills zero fields with their defaults.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.MaxChannelMetrics == 0 {
		c.MaxChannelMetrics = DefaultMaxChannelMetrics
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Source == nil {
		return ErrNoSource
	}
	if c.MaxChannelMetrics < 0 {
		return fmt.Errorf("monitor: MaxChannelMetrics %d: must be >= 0", c.MaxChannelMetrics)
	}
	if c.ShutdownTimeout < 0 {
		return fmt.Errorf("monitor: ShutdownTimeout %v: must be >= 0", c.ShutdownTimeout)
	}
	return nil
}
