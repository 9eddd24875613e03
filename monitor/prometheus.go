package monitor

import (
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
)

// sourceCollector exports the Source under the names of
// prometheus-nats-exporter's streaming collector (-serverz, -channelz), so
// existing dashboards keep working without running the exporter. It reads
// the Source at scrape time: nothing is counted twice and the JSON
// endpoints and /metrics show the same numbers.
//
// Types follow the exporter: nss_server_channels, _subscriptions and
// _clients are counters there although they can fall; we keep its types so
// that metadata-driven tooling sees the same thing. The exporter's "server"
// label (its own name for the scraped URL) is not emitted: Prometheus adds
// instance and job.
type sourceCollector struct {
	src     Source
	perSub  bool
	maxChan int
	log     hclog.Logger

	srvBytes, srvMsgs, srvChannels, srvSubs, srvClients, srvInfo *prometheus.Desc
	chanBytes, chanMsgs, chanLastSeq, chanPending                *prometheus.Desc
	subLastSent, subPending, subMaxInflight                      *prometheus.Desc
	omitted                                                      *prometheus.Desc
}

// subLabels are the exporter's per-subscription labels (minus "server").
var subLabels = []string{"channel", "client_id", "inbox", "queue_name", "is_durable", "is_offline"}

func newSourceCollector(src Source, perSub bool, maxChan int, log hclog.Logger) *sourceCollector {
	chanL := []string{"channel"}
	c := &sourceCollector{
		src:         src,
		perSub:      perSub,
		maxChan:     maxChan,
		log:         log,
		srvBytes:    prometheus.NewDesc("nss_server_bytes_total", "Total bytes stored in all channels.", nil, nil),
		srvMsgs:     prometheus.NewDesc("nss_server_msgs_total", "Total messages stored in all channels.", nil, nil),
		srvChannels: prometheus.NewDesc("nss_server_channels", "Number of channels.", nil, nil),
		srvSubs:     prometheus.NewDesc("nss_server_subscriptions", "Number of subscriptions, offline durables included.", nil, nil),
		srvClients:  prometheus.NewDesc("nss_server_clients", "Number of registered clients.", nil, nil),
		srvInfo: prometheus.NewDesc("nss_server_info", "Server information; the value is always 1.",
			[]string{"cluster_id", "server_id", "version", "go_version", "state", "role", "start_time"}, nil),
		chanBytes:   prometheus.NewDesc("nss_chan_bytes_total", "Bytes stored in the channel.", chanL, nil),
		chanMsgs:    prometheus.NewDesc("nss_chan_msgs_total", "Messages stored in the channel.", chanL, nil),
		chanLastSeq: prometheus.NewDesc("nss_chan_last_seq", "Last sequence of the channel.", chanL, nil),
		omitted: prometheus.NewDesc("stanft_monitor_channels_omitted",
			"Channels left out of nss_chan_* at the last scrape (MaxChannelMetrics).", nil, nil),
	}
	if perSub {
		c.subLastSent = prometheus.NewDesc("nss_chan_subs_last_sent", "Last sequence sent to the subscription.", subLabels, nil)
		c.subPending = prometheus.NewDesc("nss_chan_subs_pending_count", "Messages sent and not yet acknowledged.", subLabels, nil)
		c.subMaxInflight = prometheus.NewDesc("nss_chan_subs_max_inflight", "Max in-flight of the subscription.", subLabels, nil)
	} else {
		c.chanPending = prometheus.NewDesc("nss_chan_subs_pending_count",
			"Messages sent and not yet acknowledged, summed over the channel's subscriptions.", chanL, nil)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.srvBytes, c.srvMsgs, c.srvChannels, c.srvSubs, c.srvClients, c.srvInfo,
		c.chanBytes, c.chanMsgs, c.chanLastSeq, c.omitted,
	} {
		ch <- d
	}
	if c.perSub {
		ch <- c.subLastSent
		ch <- c.subPending
		ch <- c.subMaxInflight
	} else {
		ch <- c.chanPending
	}
}

// Collect implements prometheus.Collector.
func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Serverz()
	c.emit(ch, c.srvBytes, prometheus.CounterValue, float64(s.TotalBytes))
	c.emit(ch, c.srvMsgs, prometheus.CounterValue, float64(s.TotalMsgs))
	c.emit(ch, c.srvChannels, prometheus.CounterValue, float64(s.Channels))
	c.emit(ch, c.srvSubs, prometheus.CounterValue, float64(s.Subscriptions))
	c.emit(ch, c.srvClients, prometheus.CounterValue, float64(s.Clients))
	c.emit(ch, c.srvInfo, prometheus.GaugeValue, 1, s.ClusterID, s.ServerID, s.Version, s.GoVersion,
		s.State, infoRole(s), s.Start.Format(time.RFC3339Nano))

	names := c.src.ChannelNames()
	omitted := 0
	if len(names) > c.maxChan {
		omitted = len(names) - c.maxChan
		names = names[:c.maxChan]
	}
	c.emit(ch, c.omitted, prometheus.GaugeValue, float64(omitted))
	for _, name := range names {
		cz, ok := c.src.Channel(name, true)
		if !ok {
			continue // deleted since ChannelNames
		}
		c.emit(ch, c.chanBytes, prometheus.CounterValue, float64(cz.Bytes), name)
		c.emit(ch, c.chanMsgs, prometheus.CounterValue, float64(cz.Msgs), name)
		c.emit(ch, c.chanLastSeq, prometheus.GaugeValue, float64(cz.LastSeq), name)
		if c.perSub {
			c.collectSubs(ch, name, cz.Subscriptions)
			continue
		}
		pending := 0
		for _, sub := range cz.Subscriptions {
			pending += sub.PendingCount
		}
		c.emit(ch, c.chanPending, prometheus.GaugeValue, float64(pending), name)
	}
}

// subKey is one per-subscription label set.
type subKey struct {
	clientID, inbox, queue string
	durable, offline       bool
}

type subValues struct {
	lastSent, maxInflight uint64
	pending               int
}

// collectSubs emits the per-subscription series. Two entries with the same
// label set (possible with offline queue shadows) are merged: a registry
// refuses duplicates and would fail the whole scrape.
func (c *sourceCollector) collectSubs(ch chan<- prometheus.Metric, channel string, subs []Subscriptionz) {
	vals := make(map[subKey]*subValues, len(subs))
	order := make([]subKey, 0, len(subs))
	for _, s := range subs {
		k := subKey{clientID: s.ClientID, inbox: s.Inbox, queue: s.QueueName, durable: s.IsDurable, offline: s.IsOffline}
		v, ok := vals[k]
		if !ok {
			v = &subValues{}
			vals[k] = v
			order = append(order, k)
		}
		v.lastSent = max(v.lastSent, s.LastSent)
		v.maxInflight = max(v.maxInflight, uint64(max(s.MaxInflight, 0)))
		v.pending += s.PendingCount
	}
	for _, k := range order {
		v := vals[k]
		lv := []string{channel, k.clientID, k.inbox, k.queue, strconv.FormatBool(k.durable), strconv.FormatBool(k.offline)}
		c.emit(ch, c.subLastSent, prometheus.GaugeValue, float64(v.lastSent), lv...)
		c.emit(ch, c.subPending, prometheus.GaugeValue, float64(v.pending), lv...)
		c.emit(ch, c.subMaxInflight, prometheus.GaugeValue, float64(v.maxInflight), lv...)
	}
}

// emit sends one const metric; a label value Prometheus refuses (invalid
// UTF-8) drops that series instead of panicking.
func (c *sourceCollector) emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		c.log.Debug("drop metric", "metric", d.String(), "error", err)
		return
	}
	ch <- m
}

// infoRole is the role label of nss_server_info: Serverz.Role when the
// Source sets one, else the FT role derived from the state.
func infoRole(s Serverz) string {
	if s.Role != "" {
		return s.Role
	}
	switch s.State {
	case FTActiveState:
		return "active"
	case "FT_STANDBY":
		return "standby"
	case "STANDALONE":
		return "standalone"
	}
	return ""
}
