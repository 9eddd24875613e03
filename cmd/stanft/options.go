package main

import (
	"time"

	natsd "github.com/nats-io/nats-server/v2/server"

	"github.com/stanft/stanft/store"
)

// Store types accepted by -st (case-insensitive). SQL is recognised and
// rejected (SPEC D1).
const (
	storeMemory = "MEMORY"
	storeFile   = "FILE"
	storeSQL    = "SQL"
)

// Log formats accepted by --log_format.
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

// options is everything the command line and the configuration file decide.
// It is built by parseOptions: defaults < configuration file < flags given on
// the command line.
type options struct {
	ClusterID      string // -cid; default "test-cluster"
	DiscoverPrefix string // config only; default "_STAN.discover"
	StoreType      string // -st; MEMORY or FILE (upper case after validation)
	Dir            string // --dir; required for FILE
	Limits         store.Limits
	NATSServer     string // -ns; "" embeds a NATS server
	StanConfig     string // -sc
	// Client heartbeats (SPEC §2.3).
	HBInterval     time.Duration // -hbi; default 30s
	HBTimeout      time.Duration // -hbt; default 10s
	HBFailCount    int           // -hbf; default 10
	FTGroup        string        // --ft_group; "" is standalone
	ReplaceDurable bool          // --replace_durable
	IOBatchSize    int           // --io_batch_size; default 1024
	IOSleepTime    int64         // --io_sleep_time in µs; default 0
	StanDebug      bool          // -SD
	StanTrace      bool          // -SV
	SyslogName     string        // --syslog_name (Windows only; accepted, unused)
	NATSClient     natsClientOptions
	File           fileOptions
	LogFormat      string        // --log_format text|json; default text
	FTHBInterval   time.Duration // --ft_hb_interval
	FTHBMissed     time.Duration // --ft_hb_missed_interval
	MetricsPerSub  bool          // --metrics_per_subscription: per-subscription nss_chan_subs_* series
	// NATS holds the embedded NATS server options (and the logging flags,
	// which configure the shared logger).
	NATS *natsd.Options
	// unsupported lists the out-of-scope features requested (SPEC D1), as
	// one error line each, in the order found.
	unsupported []string
}

// natsClientOptions configure the server's own NATS connections.
type natsClientOptions struct {
	Secure        bool   // -secure: TLS without verification
	TLSClientCert string // -tls_client_cert
	TLSClientKey  string // -tls_client_key
	TLSClientCA   string // -tls_client_cacert
	TLSServerName string // config tls.server_name
	TLSSkipVerify bool   // config tls.skip_verify
	Credentials   string // config credentials (a .creds file)
	Username      string // config username
	Password      string // config password
	Token         string // config token
	NKeySeedFile  string // config nkey_seed_file
}

// fileOptions are the FILE store options of SPEC §7.6.
type fileOptions struct {
	CompactEnabled     bool          // default true
	CompactFragPct     int           // default 50
	CompactInterval    int           // seconds; default 300
	CompactMinSize     int64         // default 1 MiB
	BufferSize         int64         // default 2 MiB
	DoCRC              bool          // default true
	CRCPolynomial      int64         // default 0xEDB88320
	DoSync             bool          // default true
	SliceMaxMsgs       int           // default 0
	SliceMaxBytes      int64         // default 64 MiB
	SliceMaxAge        time.Duration // default 0
	SliceArchiveScript string        // default ""
	FDsLimit           int64         // default 0
	ParallelRecovery   int           // default 1
	TruncateBadEOF     bool          // default false (flag only)
	ReadBufferSize     int64         // default 2 MiB
	AutoSync           time.Duration // default 1m
}

// Default values (SPEC §7.2, §7.6, §10.1).
const (
	defaultClusterID      = "test-cluster"
	defaultDiscoverPrefix = "_STAN.discover"
	defaultHBInterval     = 30 * time.Second
	defaultHBTimeout      = 10 * time.Second
	defaultHBFailCount    = 10
	defaultIOBatchSize    = 1024
	defaultCRCPoly        = 0xEDB88320
	mib                   = 1024 * 1024
)

// defaultOptions returns the options used when nothing is configured.
func defaultOptions() *options {
	hb, missed := defaultFTTiming()
	return &options{
		ClusterID:      defaultClusterID,
		DiscoverPrefix: defaultDiscoverPrefix,
		StoreType:      storeMemory,
		Limits:         store.DefaultLimits(),
		HBInterval:     defaultHBInterval,
		HBTimeout:      defaultHBTimeout,
		HBFailCount:    defaultHBFailCount,
		IOBatchSize:    defaultIOBatchSize,
		LogFormat:      logFormatText,
		FTHBInterval:   hb,
		FTHBMissed:     missed,
		File: fileOptions{
			CompactEnabled:   true,
			CompactFragPct:   50,
			CompactInterval:  300,
			CompactMinSize:   1 * mib,
			BufferSize:       2 * mib,
			DoCRC:            true,
			CRCPolynomial:    defaultCRCPoly,
			DoSync:           true,
			SliceMaxBytes:    64 * mib,
			ParallelRecovery: 1,
			ReadBufferSize:   2 * mib,
			AutoSync:         time.Minute,
		},
	}
}
