package monitor

import (
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// maxFTStates bounds the label values of stanft_ft_state; states past it
// are reported as "other".
const maxFTStates = 16

// Time-to-active phases (label phase of stanft_ft_time_to_active_seconds).
const (
	PhaseDetection = "detection"
	PhaseLockWait  = "lock_wait"
	PhaseRecovery  = "recovery"
)

// Check results (label result of the *_checks_total counters).
const (
	ResultOK   = "ok"
	ResultFail = "fail"
)

// Metrics are stanft's own instruments. Other packages feed them through
// small interfaces (ft.Metrics, server.Metrics, the filestore Metrics) that
// *Metrics satisfies, so they never import Prometheus. All methods are safe
// for concurrent use, cheap, and no-ops on a nil *Metrics. *Metrics is a
// prometheus.Collector; New registers it.
type Metrics struct {
	ftState       *prometheus.GaugeVec
	ftEpoch       prometheus.Gauge
	ftFailovers   prometheus.Counter
	ftTimeToAct   *prometheus.HistogramVec
	ftLockChecks  *prometheus.CounterVec
	ftFenceChecks *prometheus.CounterVec
	hbAge         *prometheus.Desc
	pubAck        prometheus.Histogram
	fsync         prometheus.Histogram
	fsyncBatch    prometheus.Histogram
	redeliveries  prometheus.Counter
	clientHBFail  prometheus.Counter

	lastHB atomic.Int64 // unix nanoseconds of the last FT heartbeat seen; 0: never

	stateMu sync.Mutex
	states  map[string]bool // label values of ftState ever set
	current string
}

// NewMetrics returns the instruments, registered nowhere. Build them before
// the server, ft and filestore that feed them; pass them to New through
// Config.Metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		ftState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stanft_ft_state",
			Help: "FT elector state: 1 for the current state, 0 for the others seen.",
		}, []string{"state"}),
		ftEpoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stanft_ft_epoch",
			Help: "Epoch (fencing token) of the last activation seen by this server.",
		}),
		ftFailovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stanft_ft_failovers_total",
			Help: "Times this server took over as the FT active from another member.",
		}),
		ftTimeToAct: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stanft_ft_time_to_active_seconds",
			Help:    "Duration of each activation phase: detection of the lost active, lock wait, recovery.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"phase"}),
		ftLockChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stanft_ft_lock_checks_total",
			Help: "FT lock checks by result.",
		}, []string{"result"}),
		ftFenceChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stanft_ft_fencing_checks_total",
			Help: "Fencing checks (lock held, same lock file, own epoch) by result.",
		}, []string{"result"}),
		hbAge: prometheus.NewDesc("stanft_ft_last_heartbeat_age_seconds",
			"Seconds since the last heartbeat of another FT member was seen (meaningful on a standby); absent until the first one.", nil, nil),
		pubAck: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stanft_pub_ack_latency_seconds",
			Help:    "Time from receiving a publish to sending its ack.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2.5, 12), // 50µs … 3s
		}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stanft_fsync_latency_seconds",
			Help:    "Duration of each store flush+fsync.",
			Buckets: prometheus.ExponentialBuckets(100e-6, 2, 16), // 100µs … 3.3s
		}),
		fsyncBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stanft_fsync_batch_size",
			Help:    "Records made durable by each fsync.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13), // 1 … 4096
		}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stanft_redeliveries_total",
			Help: "Messages redelivered (ack timeout or restart).",
		}),
		clientHBFail: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stanft_client_hb_failures_total",
			Help: "Server-to-client heartbeats that got no answer.",
		}),
		states: make(map[string]bool),
	}
	// Create the fixed label values up front so they read 0, not absent.
	for _, p := range []string{PhaseDetection, PhaseLockWait, PhaseRecovery} {
		m.ftTimeToAct.WithLabelValues(p)
	}
	for _, r := range []string{ResultOK, ResultFail} {
		m.ftLockChecks.WithLabelValues(r)
		m.ftFenceChecks.WithLabelValues(r)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
	ch <- m.hbAge
}

// Collect implements prometheus.Collector. The heartbeat age is computed
// here, at scrape time.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
	if ns := m.lastHB.Load(); ns != 0 {
		age := max(time.Since(time.Unix(0, ns)).Seconds(), 0)
		ch <- prometheus.MustNewConstMetric(m.hbAge, prometheus.GaugeValue, age)
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.ftState, m.ftEpoch, m.ftFailovers, m.ftTimeToAct, m.ftLockChecks, m.ftFenceChecks,
		m.pubAck, m.fsync, m.fsyncBatch, m.redeliveries, m.clientHBFail,
	}
}

// FTState records the elector's current state (ft.Metrics). The previous
// state's series drops to 0. At most maxFTStates distinct values are kept.
func (m *Metrics) FTState(state string) {
	if m == nil {
		return
	}
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if !utf8.ValidString(state) || (!m.states[state] && len(m.states) >= maxFTStates-1) {
		state = "other"
	}
	if m.current != "" && m.current != state {
		m.ftState.WithLabelValues(m.current).Set(0)
	}
	m.states[state] = true
	m.current = state
	m.ftState.WithLabelValues(state).Set(1)
}

// FTEpoch records the epoch of the current activation (ft.Metrics).
func (m *Metrics) FTEpoch(e uint64) {
	if m == nil {
		return
	}
	m.ftEpoch.Set(float64(e))
}

// FTFailover counts one activation of this server (ft.Metrics).
func (m *Metrics) FTFailover() {
	if m == nil {
		return
	}
	m.ftFailovers.Inc()
}

// FTTimeToActive records the phases of one activation (ft.Metrics):
// detecting the lost active, waiting for the lock, recovering the store.
func (m *Metrics) FTTimeToActive(detection, lockWait, recovery time.Duration) {
	if m == nil {
		return
	}
	m.ftTimeToAct.WithLabelValues(PhaseDetection).Observe(seconds(detection))
	m.ftTimeToAct.WithLabelValues(PhaseLockWait).Observe(seconds(lockWait))
	m.ftTimeToAct.WithLabelValues(PhaseRecovery).Observe(seconds(recovery))
}

// FTLockCheck counts one lock check (ft.Metrics).
func (m *Metrics) FTLockCheck(ok bool) {
	if m == nil {
		return
	}
	m.ftLockChecks.WithLabelValues(result(ok)).Inc()
}

// FTFencingCheck counts one fencing check (ft.Metrics).
func (m *Metrics) FTFencingCheck(ok bool) {
	if m == nil {
		return
	}
	m.ftFenceChecks.WithLabelValues(result(ok)).Inc()
}

// FTHeartbeatSeen records that an FT heartbeat arrived now (ft.Metrics).
func (m *Metrics) FTHeartbeatSeen() {
	if m == nil {
		return
	}
	m.lastHB.Store(time.Now().UnixNano())
}

// PubAckLatency observes one publish-to-ack time (server.Metrics).
func (m *Metrics) PubAckLatency(d time.Duration) {
	if m == nil {
		return
	}
	m.pubAck.Observe(seconds(d))
}

// Redeliveries counts n redelivered messages (server.Metrics).
func (m *Metrics) Redeliveries(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.redeliveries.Add(float64(n))
}

// ClientHBFailure counts one failed client heartbeat (server.Metrics).
func (m *Metrics) ClientHBFailure() {
	if m == nil {
		return
	}
	m.clientHBFail.Inc()
}

// FsyncLatency observes one flush+fsync and how many records it made
// durable (filestore Metrics).
func (m *Metrics) FsyncLatency(d time.Duration, batch int) {
	if m == nil {
		return
	}
	m.fsync.Observe(seconds(d))
	if batch > 0 {
		m.fsyncBatch.Observe(float64(batch))
	}
}

func seconds(d time.Duration) float64 { return max(d.Seconds(), 0) }

func result(ok bool) string {
	if ok {
		return ResultOK
	}
	return ResultFail
}
