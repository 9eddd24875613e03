package drill

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Mode is how the drill triggers the failover.
type Mode string

// The modes.
const (
	// ModeStepDown asks the active member to step down (the FT step-down
	// request of `stanft ft step-down`); needs Config.FTGroup.
	ModeStepDown Mode = "step-down"
	// ModeWait waits for the operator to kill (or stop, or pause) the active.
	ModeWait Mode = "wait"
)

// Config configures a drill. Start from DefaultConfig; NATSURL, ClusterID,
// Members (and FTGroup in step-down mode) are required.
type Config struct {
	// NATSURL is the NATS server(s) clients use, comma-separated. Default
	// "nats://127.0.0.1:4222". Give every member's client URL so the client
	// can reconnect when one goes away.
	NATSURL string
	// ClusterID is the STAN cluster ID. Default "test-cluster".
	ClusterID string
	// FTGroup is the FT group name; required for ModeStepDown.
	FTGroup string
	// Members are the members' monitoring base URLs (http://host:8222).
	Members []string
	// Channel is the channel used; default "drill.<random>".
	Channel string
	// ClientID is the STAN client ID; default "stanft-drill-<random>".
	ClientID string
	// Mode is ModeStepDown (default) or ModeWait.
	Mode Mode
	// Rate is the publish rate in messages per second. Default 200.
	Rate int
	// Size is the payload size in bytes (at least 8). Default 128.
	Size int
	// Warmup is how long to publish before triggering the failover. Default 2s.
	Warmup time.Duration
	// Settle is how long to keep publishing once the new active is seen.
	// Default 3s.
	Settle time.Duration
	// PubAckWait bounds each publish: a publish sent into the gap fails after
	// it. Default 5s.
	PubAckWait time.Duration
	// Drain bounds the wait, after publishing stops, for every acknowledged
	// message to be delivered. Default 30s.
	Drain time.Duration
	// Timeout bounds the whole drill, including waiting for the operator in
	// ModeWait. Default 2m.
	Timeout time.Duration
	// ProgressInterval is how often the progress line is written. Default 1s.
	ProgressInterval time.Duration
	// Logger receives debug logs. Default: a null logger.
	Logger hclog.Logger
}

// DefaultConfig returns the defaults; Members is empty.
func DefaultConfig() Config {
	return Config{
		NATSURL:          "nats://127.0.0.1:4222",
		ClusterID:        "test-cluster",
		Mode:             ModeStepDown,
		Rate:             200,
		Size:             128,
		Warmup:           2 * time.Second,
		Settle:           3 * time.Second,
		PubAckWait:       5 * time.Second,
		Drain:            30 * time.Second,
		Timeout:          2 * time.Minute,
		ProgressInterval: time.Second,
	}
}

// ErrInvalidConfig wraps every Validate error.
var ErrInvalidConfig = errors.New("drill: invalid config")

// Validate reports the first invalid field.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
	}
	switch {
	case strings.TrimSpace(c.NATSURL) == "":
		return bad("NATSURL", "required")
	case c.ClusterID == "":
		return bad("ClusterID", "required")
	case len(c.Members) == 0:
		return bad("Members", "at least one monitoring URL is required")
	case c.Mode != ModeStepDown && c.Mode != ModeWait:
		return bad("Mode", "%q is not %q or %q", c.Mode, ModeStepDown, ModeWait)
	case c.Mode == ModeStepDown && c.FTGroup == "":
		return bad("FTGroup", "required to request a step-down")
	case c.Rate <= 0 || c.Rate > 100000:
		return bad("Rate", "%d not in 1..100000", c.Rate)
	case c.Size < 8 || c.Size > 1<<20:
		return bad("Size", "%d not in 8..1048576", c.Size)
	case c.Warmup < 0 || c.Settle < 0:
		return bad("Warmup/Settle", "must not be negative")
	case c.PubAckWait < 100*time.Millisecond:
		return bad("PubAckWait", "%s is under 100ms", c.PubAckWait)
	case c.Drain <= 0 || c.Timeout <= 0 || c.ProgressInterval <= 0:
		return bad("Drain/Timeout/ProgressInterval", "must be positive")
	}
	for i, m := range c.Members {
		u, err := url.Parse(m)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad(fmt.Sprintf("Members[%d]", i), "%q is not an http(s) URL", m)
		}
	}
	return nil
}
