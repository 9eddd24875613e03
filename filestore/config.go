package filestore

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/store"
)

// Defaults of Config (SPEC §7.6).
const (
	DefaultCompactFragmentation = 50
	DefaultCompactInterval      = 300 * time.Second
	DefaultCompactMinSize       = 1024 * 1024
	DefaultBufferSize           = 2 * 1024 * 1024
	DefaultCRCPoly              = 0xEDB88320 // IEEE
	DefaultSliceMaxBytes        = 64 * 1024 * 1024
	DefaultParallelRecovery     = 1
	DefaultReadBufferSize       = 2 * 1024 * 1024
	DefaultAutoSync             = time.Minute
)

// Metrics receives observations of the store. Implementations must be safe
// for concurrent use and must not block.
type Metrics interface {
	// FsyncLatency is called after each fsync batch: d is how long the
	// batch took and batch how many files it synced.
	FsyncLatency(d time.Duration, batch int)
}

type noopMetrics struct{}

func (noopMetrics) FsyncLatency(time.Duration, int) {}

// Config configures a Store. Start from DefaultConfig; Open calls Validate.
type Config struct {
	// CompactEnabled rewrites subs.log and clients.log when enough of them
	// is dead records. Default true.
	CompactEnabled bool
	// CompactFragmentation is the percentage of dead records needed before
	// a file is compacted. Default 50.
	CompactFragmentation int
	// CompactInterval is the minimum time between two compactions of one
	// file. Default 300 s.
	CompactInterval time.Duration
	// CompactMinSize: files smaller than this are never compacted.
	// Default 1 MB.
	CompactMinSize int64
	// BufferSize is the write buffer of a message or subscription file:
	// records are written to the OS when it fills, and at every Flush. It
	// grows on demand and is released when idle. 0 writes every record at
	// once. Default 2 MB.
	BufferSize int
	// DoCRC verifies the checksum of every message read by Lookup. Recovery
	// and Verify always verify checksums. Default true.
	DoCRC bool
	// CRCPoly is the CRC-32 polynomial of a new datastore. An existing
	// datastore keeps the polynomial recorded in its marker file.
	// Default 0xEDB88320 (IEEE).
	CRCPoly int64
	// DoSync fsyncs on every Flush, Init and AddClient. Default true. When
	// false, data reaches the OS at every Flush and the disk at every
	// AutoSync tick.
	DoSync bool
	// SliceMaxMsgs, SliceMaxBytes and SliceMaxAge roll a channel's message
	// file ("slice") after that many messages, bytes (index included) or
	// once its first message is that old. 0 disables each. When all three
	// are 0 they are derived from the channel's limits (a quarter of each,
	// age at least 1 s). Defaults 0, 64 MB, 0.
	SliceMaxMsgs  int
	SliceMaxBytes int64
	SliceMaxAge   time.Duration
	// SliceArchiveScript, when set, is run asynchronously when a slice is
	// removed by limits, with the arguments (channel, dat.bak, idx.bak);
	// the slice's files are renamed *.bak first and the script owns them.
	SliceArchiveScript string
	// FDsLimit is a soft cap on the number of open files: read handles of
	// older slices are closed, least recently used first, above it. 0 is
	// unlimited. Default 0.
	FDsLimit int64
	// ParallelRecovery is how many channels Recover loads concurrently.
	// Default 1.
	ParallelRecovery int
	// TruncateBadEOF lets recovery cut the newest message slice, subs.log
	// and clients.log at their first bad record even when valid records
	// follow (which is otherwise a CorruptionError): the operator's escape
	// hatch, with data loss; the cut bytes are saved to a .broken file and
	// logged. A torn tail is always truncated, with or without it.
	// Default false.
	TruncateBadEOF bool
	// ReadBufferSize is the read-ahead of message lookups; 0 disables it.
	// Default 2 MB.
	ReadBufferSize int
	// AutoSync is the interval of the background flush+fsync of every
	// file; <= 0 disables it. Default 1 minute.
	AutoSync time.Duration
	// ProgressInterval is how often a long recovery logs its progress
	// (channels and messages recovered, rate, estimated time left); <= 0
	// means the default, 5 s.
	ProgressInterval time.Duration

	// Limits are the store's limits. Default store.DefaultLimits().
	Limits store.Limits
	// Logger receives the store's logs. Default: no logging.
	Logger hclog.Logger
	// Fence, when set, is called before every batch of writes (every
	// flush, and every early write of a full buffer): it must return nil
	// only while this process may still write the datastore (it holds the
	// FT lock and its epoch is current). When it fails, the write fails
	// with its error wrapped, nothing more is written, and the store
	// refuses every later write (SPEC D5).
	Fence func() error
	// Metrics receives fsync latencies. Default: none.
	Metrics Metrics

	// fs is the file system seam; nil means the real one. Tests only.
	fs vfs
}

// DefaultConfig returns the defaults of SPEC §7.6 and store.DefaultLimits.
func DefaultConfig() Config {
	return Config{
		CompactEnabled:       true,
		CompactFragmentation: DefaultCompactFragmentation,
		CompactInterval:      DefaultCompactInterval,
		CompactMinSize:       DefaultCompactMinSize,
		BufferSize:           DefaultBufferSize,
		DoCRC:                true,
		CRCPoly:              DefaultCRCPoly,
		DoSync:               true,
		SliceMaxBytes:        DefaultSliceMaxBytes,
		ParallelRecovery:     DefaultParallelRecovery,
		ReadBufferSize:       DefaultReadBufferSize,
		AutoSync:             DefaultAutoSync,
		Limits:               store.DefaultLimits(),
	}
}

// Validate checks c. It does not change it.
func (c *Config) Validate() error {
	var errs []error
	if c.CompactFragmentation < 0 || c.CompactFragmentation > 100 {
		errs = append(errs, fmt.Errorf("compact fragmentation %d must be between 0 and 100", c.CompactFragmentation))
	}
	if c.CompactInterval < 0 {
		errs = append(errs, fmt.Errorf("compact interval %v cannot be negative", c.CompactInterval))
	}
	if c.CompactMinSize < 0 {
		errs = append(errs, fmt.Errorf("compact min size %d cannot be negative", c.CompactMinSize))
	}
	if c.BufferSize < 0 {
		errs = append(errs, fmt.Errorf("buffer size %d cannot be negative", c.BufferSize))
	}
	if c.ReadBufferSize < 0 {
		errs = append(errs, fmt.Errorf("read buffer size %d cannot be negative", c.ReadBufferSize))
	}
	if c.CRCPoly <= 0 || c.CRCPoly > 0xFFFFFFFF {
		errs = append(errs, fmt.Errorf("crc polynomial %d must be a positive 32-bit value", c.CRCPoly))
	}
	if c.SliceMaxMsgs < 0 || c.SliceMaxBytes < 0 || c.SliceMaxAge < 0 {
		errs = append(errs, errors.New("slice limits cannot be negative"))
	}
	if c.FDsLimit < 0 {
		errs = append(errs, fmt.Errorf("fds limit %d cannot be negative", c.FDsLimit))
	}
	if c.ParallelRecovery <= 0 {
		errs = append(errs, fmt.Errorf("parallel recovery %d must be at least 1", c.ParallelRecovery))
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("filestore: invalid config: %w", err)
	}
	return nil
}
