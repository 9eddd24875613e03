package monitor

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Paths served by the monitor. Every other path goes to Config.NATSHandler.
const (
	RootPath       = "/streaming"
	ServerPath     = RootPath + "/serverz"
	StorePath      = RootPath + "/storez"
	ClientsPath    = RootPath + "/clientsz"
	ChannelsPath   = RootPath + "/channelsz"
	IsFTActivePath = RootPath + "/isFTActive"
	HealthzPath    = "/healthz"
	ReadyzPath     = "/readyz"
	MetricsPath    = "/metrics"
)

// Monitor serves the monitoring endpoints of one stanft process: the
// reference-compatible /streaming/* JSON, /healthz, /readyz, /metrics, and
// the embedded NATS server's own endpoints for every other path.
type Monitor struct {
	src       Source
	health    Health
	log       hclog.Logger
	reg       *prometheus.Registry
	metrics   *Metrics
	handler   http.Handler
	cfg       Config
	listeners listenerSet
}

// listenerSet holds the HTTP servers started by Start.
type listenerSet struct {
	mu      sync.Mutex
	servers []*http.Server
	addrs   [2]string // http, https; "" when not listening
	wg      sync.WaitGroup
	errc    chan error
	started bool
}

// New validates cfg, registers the collectors and builds the route table.
// It starts no goroutine and binds no port (see Start and Serve).
func New(cfg Config) (*Monitor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Monitor{
		src:     cfg.Source,
		health:  cfg.Health,
		log:     cfg.Logger.Named("monitor"),
		reg:     cfg.Registry,
		metrics: cfg.Metrics,
		cfg:     cfg,
	}
	if m.health == nil {
		m.health = sourceHealth{src: cfg.Source}
	}
	if m.reg == nil {
		m.reg = prometheus.NewRegistry()
	}
	if m.metrics == nil {
		m.metrics = NewMetrics()
	}
	cs := []prometheus.Collector{
		newSourceCollector(cfg.Source, cfg.PerSubscriptionMetrics, cfg.MaxChannelMetrics, m.log),
		m.metrics,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return nil, fmt.Errorf("monitor: register collector: %w", err)
		}
	}
	m.handler = m.routes(cfg.NATSHandler)
	return m, nil
}

// Handler returns the monitor's HTTP handler, for cmd/stanft to mount or for
// tests. Start and Serve use it too.
func (m *Monitor) Handler() http.Handler { return m.handler }

// Instruments returns stanft's own instruments. Its method set satisfies
// ft.Metrics, server.Metrics and the filestore Metrics interface.
func (m *Monitor) Instruments() *Metrics { return m.metrics }

// Registry returns the registry /metrics serves.
func (m *Monitor) Registry() *prometheus.Registry { return m.reg }

// routes builds the route table. Our paths are registered as exact patterns
// so that they win over the NATS handler, which gets every other path; that
// is how our /healthz replaces the NATS server's own.
func (m *Monitor) routes(nats http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(RootPath, m.handleRoot)
	mux.HandleFunc(ServerPath, m.handleServerz)
	mux.HandleFunc(StorePath, m.handleStorez)
	mux.HandleFunc(ClientsPath, m.handleClientsz)
	mux.HandleFunc(ChannelsPath, m.handleChannelsz)
	mux.HandleFunc(IsFTActivePath, m.handleIsFTActive)
	mux.HandleFunc(HealthzPath, m.handleHealthz)
	mux.HandleFunc(ReadyzPath, m.handleReadyz)
	mux.Handle(MetricsPath, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{m.log},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	}))
	if nats == nil {
		nats = http.NotFoundHandler()
	}
	mux.Handle("/", nats)
	return mux
}

// promLogger adapts hclog to promhttp.Logger.
type promLogger struct{ log hclog.Logger }

func (l promLogger) Println(v ...any) { l.log.Error("metrics scrape", "error", fmt.Sprint(v...)) }
