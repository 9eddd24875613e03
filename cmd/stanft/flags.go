package main

import (
	"errors"
	"flag"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/conf"
)

// sizeValue is a flag.Value for byte sizes: a plain integer or one with a
// NATS size suffix (k=1000, kb/ki=1024, m, mb, g, gb, ...). The NATS
// configuration parser does the parsing, so flags and files agree.
type sizeValue struct{ p *int64 }

func (v sizeValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(*v.p, 10)
}

func (v sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

// errParse is the error of a value that is not a number, with the text Go's
// flag package gives its numeric flags ("invalid value "x" for flag -mc:
// parse error").
var errParse = errors.New("parse error")

// parseSize parses a byte size with an optional NATS size suffix.
func parseSize(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return 0, errParse
		}
	}
	m, err := conf.Parse("v: " + s)
	if err != nil {
		return 0, errParse
	}
	n, ok := m["v"].(int64)
	if !ok {
		return 0, errParse
	}
	return n, nil
}

// intSizeValue is sizeValue for int fields.
type intSizeValue struct{ p *int }

func (v intSizeValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v intSizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v.p = int(n)
	return nil
}

// flagDefiner registers one variable under several names (-x and --long).
type flagDefiner struct{ fs *flag.FlagSet }

func (d flagDefiner) str(p *string, usage string, names ...string) {
	for _, n := range names {
		d.fs.StringVar(p, n, *p, usage)
	}
}

func (d flagDefiner) boolean(p *bool, usage string, names ...string) {
	for _, n := range names {
		d.fs.BoolVar(p, n, *p, usage)
	}
}

func (d flagDefiner) integer(p *int, usage string, names ...string) {
	for _, n := range names {
		d.fs.IntVar(p, n, *p, usage)
	}
}

func (d flagDefiner) int64(p *int64, usage string, names ...string) {
	for _, n := range names {
		d.fs.Int64Var(p, n, *p, usage)
	}
}

func (d flagDefiner) duration(p *time.Duration, usage string, names ...string) {
	for _, n := range names {
		d.fs.DurationVar(p, n, *p, usage)
	}
}

func (d flagDefiner) size(p *int64, usage string, names ...string) {
	for _, n := range names {
		d.fs.Var(sizeValue{p: p}, n, usage)
	}
}

func (d flagDefiner) intSize(p *int, usage string, names ...string) {
	for _, n := range names {
		d.fs.Var(intSizeValue{p: p}, n, usage)
	}
}

// unsupportedFlags are flags of out-of-scope reference modes (SPEC D1): they
// are accepted by the parser so that they can be rejected with a clear line.
// The value is the explanation printed after "--<flag> is not supported: ".
var unsupportedFlags = map[string]string{
	"clustered":                          reasonClustering,
	"cluster_node_id":                    reasonClustering,
	"cluster_bootstrap":                  reasonClustering,
	"cluster_peers":                      reasonClustering,
	"cluster_log_path":                   reasonClustering,
	"cluster_log_cache_size":             reasonClustering,
	"cluster_log_snapshots":              reasonClustering,
	"cluster_trailing_logs":              reasonClustering,
	"cluster_sync":                       reasonClustering,
	"cluster_raft_logging":               reasonClustering,
	"cluster_proceed_on_restore_failure": reasonClustering,
	"cluster_allow_add_remove_node":      reasonClustering,
	"sql_driver":                         reasonSQL,
	"sql_source":                         reasonSQL,
	"sql_no_caching":                     reasonSQL,
	"sql_max_open_conns":                 reasonSQL,
	"sql_bulk_insert_limit":              reasonSQL,
	"encrypt":                            reasonEncryption,
	"encryption_cipher":                  reasonEncryption,
	"encryption_key":                     reasonEncryption,
}

const (
	reasonClustering = "use --ft_group with a shared FILE store"
	reasonSQL        = "the SQL store is not implemented; use -st FILE (with --ft_group for fault tolerance)"
	reasonEncryption = "at-rest encryption is not implemented"
	reasonPartition  = "partitioning is not implemented; run one server (or FT group) per cluster ID"
)

// unsupportedSink receives the values of the unsupported flags; they are
// only checked for presence.
type unsupportedSink struct {
	b   bool
	s   string
	i   int
	i64 int64
}

// defineStreamingFlags registers every streaming flag of SPEC §10.1 (and the
// stanft additions) on fs, bound to o.
func defineStreamingFlags(fs *flag.FlagSet, o *options, sink *unsupportedSink) {
	d := flagDefiner{fs: fs}
	d.str(&o.ClusterID, "Cluster ID.", "cid", "cluster_id")
	d.str(&o.StoreType, "Store type: MEMORY|FILE.", "st", "store")
	d.str(&o.Dir, "Root directory of the FILE store.", "dir")
	d.intSize(&o.Limits.MaxChannels, "Max number of channels (0 for unlimited).", "mc", "max_channels")
	d.intSize(&o.Limits.MaxSubscriptions, "Max number of subscriptions per channel (0 for unlimited).", "msu", "max_subs")
	d.intSize(&o.Limits.MaxMsgs, "Max number of messages per channel (0 for unlimited).", "mm", "max_msgs")
	d.size(&o.Limits.MaxBytes, "Max messages total size per channel (0 for unlimited).", "mb", "max_bytes")
	d.duration(&o.Limits.MaxAge, "Max duration a message can be stored (0 for unlimited).", "ma", "max_age")
	d.duration(&o.Limits.MaxInactivity, "Max inactivity (no new message, no subscription) after which a channel is deleted (0 for unlimited).", "mi", "max_inactivity")
	d.str(&o.NATSServer, "Connect to this external NATS server URL (comma separated list); empty embeds a NATS server.", "ns", "nats_server")
	d.str(&o.StanConfig, "Streaming server configuration file.", "sc", "stan_config")
	d.duration(&o.HBInterval, "Interval at which the server sends heartbeats to a client.", "hbi", "hb_interval")
	d.duration(&o.HBTimeout, "How long the server waits for a heartbeat response.", "hbt", "hb_timeout")
	d.integer(&o.HBFailCount, "Number of failed heartbeats before the server closes the client connection.", "hbf", "hb_fail_count")
	d.str(&o.FTGroup, "Name of the fault tolerance group (enables FT; FILE store only).", "ft_group")
	d.boolean(&o.ReplaceDurable, "Replace an existing durable subscription instead of failing with duplicate durable error.", "replace_durable")
	d.integer(&o.IOBatchSize, "Max number of messages stored per batch (0 for unlimited).", "io_batch_size")
	d.int64(&o.IOSleepTime, "Microseconds the publish loop waits to fill a batch.", "io_sleep_time")
	d.boolean(&o.StanDebug, "Enable streaming debug logging.", "SD", "stan_debug")
	d.boolean(&o.StanTrace, "Enable streaming trace logging.", "SV", "stan_trace")
	fs.Bool("SDV", false, "Enable streaming debug and trace logging.")
	d.str(&o.SyslogName, "Syslog name (Windows event source).", "syslog_name")
	d.boolean(&o.NATSClient.Secure, "Use a TLS connection to the NATS server without verification.", "secure")
	d.str(&o.NATSClient.TLSClientCert, "Client certificate for the connection to NATS.", "tls_client_cert")
	d.str(&o.NATSClient.TLSClientKey, "Client private key for the connection to NATS.", "tls_client_key")
	d.str(&o.NATSClient.TLSClientCA, "Client CA for the connection to NATS.", "tls_client_cacert")

	f := &o.File
	d.boolean(&f.CompactEnabled, "Enable file compaction.", "file_compact_enabled")
	d.integer(&f.CompactFragPct, "Percentage of dead records before compaction.", "file_compact_frag")
	d.integer(&f.CompactInterval, "Minimum seconds between compactions.", "file_compact_interval")
	d.size(&f.CompactMinSize, "Minimum file size for compaction.", "file_compact_min_size")
	d.size(&f.BufferSize, "File write buffer size.", "file_buffer_size")
	d.boolean(&f.DoCRC, "Verify CRC of records when reading.", "file_crc")
	d.int64(&f.CRCPolynomial, "CRC polynomial.", "file_crc_poly")
	d.boolean(&f.DoSync, "fsync on every store flush.", "file_sync")
	d.integer(&f.SliceMaxMsgs, "Max number of messages per file slice.", "file_slice_max_msgs")
	d.size(&f.SliceMaxBytes, "Max bytes per file slice.", "file_slice_max_bytes")
	d.duration(&f.SliceMaxAge, "Max age of a file slice.", "file_slice_max_age")
	d.str(&f.SliceArchiveScript, "Script run when a file slice is removed.", "file_slice_archive_script")
	d.int64(&f.FDsLimit, "Soft limit on open files used by the store.", "file_fds_limit")
	d.integer(&f.ParallelRecovery, "Number of channels recovered in parallel.", "file_parallel_recovery")
	d.boolean(&f.TruncateBadEOF, "Truncate a partial last record on recovery (data loss).", "file_truncate_bad_eof")
	d.size(&f.ReadBufferSize, "File read-ahead buffer size.", "file_read_buffer_size")
	d.duration(&f.AutoSync, "Interval of the periodic flush and fsync (<= 0 disables).", "file_auto_sync")

	d.str(&o.LogFormat, "Log format: text or json.", "log_format")
	d.duration(&o.FTHBInterval, "FT heartbeat interval.", "ft_hb_interval")
	d.duration(&o.FTHBMissed, "FT missed heartbeat interval before a standby tries to become active.", "ft_hb_missed_interval")
	d.boolean(&o.MetricsPerSub, "Export per-subscription nss_chan_subs_* series on /metrics (one series per subscription).", "metrics_per_subscription")

	// Out-of-scope modes: recognised, then rejected (SPEC D1).
	for _, n := range []string{"clustered", "cluster_bootstrap", "cluster_sync", "cluster_raft_logging",
		"cluster_proceed_on_restore_failure", "cluster_allow_add_remove_node", "sql_no_caching", "encrypt"} {
		fs.BoolVar(&sink.b, n, false, "Not supported.")
	}
	for _, n := range []string{"cluster_node_id", "cluster_peers", "cluster_log_path", "sql_driver", "sql_source",
		"encryption_cipher", "encryption_key"} {
		fs.StringVar(&sink.s, n, "", "Not supported.")
	}
	for _, n := range []string{"cluster_log_cache_size", "cluster_log_snapshots", "sql_max_open_conns", "sql_bulk_insert_limit"} {
		fs.IntVar(&sink.i, n, 0, "Not supported.")
	}
	fs.Int64Var(&sink.i64, "cluster_trailing_logs", 0, "Not supported.")
}
