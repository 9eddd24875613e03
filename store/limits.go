package store

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// ChannelLimits are the limits of one channel. In Limits.ChannelLimits (the
// global values) 0 means unlimited. In a per-channel entry 0 means "inherit"
// and -1 means unlimited (the config file's per-channel 0 is stored as -1).
type ChannelLimits struct {
	MaxMsgs          int
	MaxBytes         int64
	MaxAge           time.Duration
	MaxSubscriptions int
	MaxInactivity    time.Duration
}

// Limits are the limits a store enforces.
type Limits struct {
	// MaxChannels is the maximum number of channels; 0 is unlimited.
	MaxChannels int
	// ChannelLimits are the global per-channel limits.
	ChannelLimits
	// PerChannel holds per-channel overrides keyed by channel name; names
	// may hold wildcards (foo.*, foo.>) as whole tokens, '>' last.
	PerChannel map[string]*ChannelLimits
}

// Exceeded reports whether msgs messages of bytes bytes in all are over the
// MaxMsgs or MaxBytes of l, resolved limits where 0 is unlimited. A store
// drops its oldest message while this holds, always keeping the newest.
func (l ChannelLimits) Exceeded(msgs int, bytes uint64) bool {
	return (l.MaxMsgs > 0 && msgs > l.MaxMsgs) ||
		(l.MaxBytes > 0 && bytes > uint64(l.MaxBytes))
}

// LimitsReachedMessage is the warning a store logs once per channel, right
// after it first dropped a message to stay within l, with the counts after
// that drop; the text and the byte format are the reference's.
func LimitsReachedMessage(channel string, msgs int, bytes uint64, l ChannelLimits) string {
	return fmt.Sprintf("Reached limits for store %q (msgs=%v/%v bytes=%v/%v), dropping old messages to make room for new ones",
		channel, msgs, l.MaxMsgs, FriendlyBytes(int64(min(bytes, math.MaxInt64))), FriendlyBytes(l.MaxBytes))
}

// FriendlyBytes formats a byte count as the reference's logs do: "512 B",
// then two decimals and a binary unit ("1.50 KB", "976.56 MB").
func FriendlyBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := "KMGTPE"
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.2f %cB", v, units[i])
}

// Default global limits (SPEC §7.2).
const (
	DefaultMaxChannels      = 100
	DefaultMaxSubscriptions = 1000
	DefaultMaxMsgs          = 1000000
	DefaultMaxBytes         = int64(1000000 * 1024)
)

// DefaultLimits returns the reference's default limits: 100 channels, 1000
// subscriptions, 1,000,000 messages and 1,024,000,000 bytes per channel, no
// age or inactivity limit, no per-channel entries.
func DefaultLimits() Limits {
	return Limits{
		MaxChannels: DefaultMaxChannels,
		ChannelLimits: ChannelLimits{
			MaxMsgs:          DefaultMaxMsgs,
			MaxBytes:         DefaultMaxBytes,
			MaxSubscriptions: DefaultMaxSubscriptions,
		},
	}
}

// Clone returns a deep copy of l: the PerChannel map and its entries are
// copied, so the caller may change either copy freely.
func (l Limits) Clone() Limits {
	c := l
	if l.PerChannel != nil {
		c.PerChannel = make(map[string]*ChannelLimits, len(l.PerChannel))
		for name, cl := range l.PerChannel {
			if cl == nil {
				c.PerChannel[name] = nil
				continue
			}
			v := *cl
			c.PerChannel[name] = &v
		}
	}
	return c
}

// Validate checks l. Global values must not be negative; per-channel names
// must be valid channel names, wildcards allowed as whole tokens with '>'
// last; there may not be more literal per-channel entries than MaxChannels
// (when MaxChannels is set). Per-channel values may be negative (unlimited).
// The error texts are the reference's, as operators see them at startup.
func (l *Limits) Validate() error {
	switch {
	case l.MaxChannels < 0:
		return fmt.Errorf("max channels limit cannot be negative (%v)", l.MaxChannels)
	case l.MaxSubscriptions < 0:
		return fmt.Errorf("max subscriptions limit cannot be negative (%v)", l.MaxSubscriptions)
	case l.MaxMsgs < 0:
		return fmt.Errorf("max messages limit cannot be negative (%v)", l.MaxMsgs)
	case l.MaxBytes < 0:
		return fmt.Errorf("max bytes limit cannot be negative (%v)", l.MaxBytes)
	case l.MaxAge < 0:
		return fmt.Errorf("max age limit cannot be negative (%v)", l.MaxAge)
	case l.MaxInactivity < 0:
		return fmt.Errorf("max inactivity limit cannot be negative (%v)", l.MaxInactivity)
	}
	literals := 0
	// Sorted, so that the error for several bad entries is deterministic.
	names := make([]string, 0, len(l.PerChannel))
	for name := range l.PerChannel {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !IsChannelNameValid(name, true) {
			return fmt.Errorf("invalid channel name %q", name)
		}
		if l.PerChannel[name] == nil {
			return fmt.Errorf("no limits defined for channel %q", name)
		}
		if isLiteral(name) {
			literals++
		}
	}
	if l.MaxChannels > 0 && literals > l.MaxChannels {
		// The reference fails as soon as one literal entry is over the
		// limit, so the count it reports is always MaxChannels+1.
		return fmt.Errorf("too many channels defined (%v). The max channels limit is set to %v",
			l.MaxChannels+1, l.MaxChannels)
	}
	return nil
}

// ForChannel returns the limits that apply to the channel name, with every
// field resolved: 0 means unlimited and no field is negative.
//
// The per-channel entries matching name are ordered from the most specific
// (the literal name itself) to the widest wildcard; a field that is 0 in an
// entry is inherited from the next wider match, then from the global limits;
// a negative field means unlimited and resolves to 0. Of two wildcards that
// match the same name, the more specific one has, at the first token where
// they differ, a literal token rather than '*', or '*' rather than '>'.
// ForChannel is meant for channel creation, not for hot paths.
func (l *Limits) ForChannel(name string) ChannelLimits {
	type match struct {
		pattern []string
		limits  *ChannelLimits
	}
	nameToks := strings.Split(name, ".")
	var matches []match
	for pat, cl := range l.PerChannel {
		if cl == nil {
			continue
		}
		toks := strings.Split(pat, ".")
		if subjectMatches(toks, nameToks) {
			matches = append(matches, match{pattern: toks, limits: cl})
		}
	}
	sort.Slice(matches, func(i, j int) bool {
		return moreSpecific(matches[i].pattern, matches[j].pattern)
	})
	res := l.ChannelLimits
	resolve := func(pick func(*ChannelLimits) int64) int64 {
		for _, m := range matches {
			if v := pick(m.limits); v != 0 {
				return max(v, 0)
			}
		}
		return pick(&res)
	}
	res.MaxMsgs = int(resolve(func(c *ChannelLimits) int64 { return int64(c.MaxMsgs) }))
	res.MaxBytes = resolve(func(c *ChannelLimits) int64 { return c.MaxBytes })
	res.MaxAge = time.Duration(resolve(func(c *ChannelLimits) int64 { return int64(c.MaxAge) }))
	res.MaxSubscriptions = int(resolve(func(c *ChannelLimits) int64 { return int64(c.MaxSubscriptions) }))
	res.MaxInactivity = time.Duration(resolve(func(c *ChannelLimits) int64 { return int64(c.MaxInactivity) }))
	return res
}

// subjectMatches reports whether the subject tokens match the pattern tokens
// ('*' one token, '>' one or more trailing tokens).
func subjectMatches(pattern, subject []string) bool {
	for i, p := range pattern {
		if p == ">" {
			return len(subject) > i
		}
		if i >= len(subject) || (p != "*" && p != subject[i]) {
			return false
		}
	}
	return len(pattern) == len(subject)
}

// moreSpecific reports whether pattern a is more specific than pattern b,
// both matching the same subject: at the first differing token a literal
// beats '*', which beats '>'.
func moreSpecific(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		ra, rb := tokenRank(a[i]), tokenRank(b[i])
		if ra != rb {
			return ra < rb
		}
		if a[i] != b[i] {
			return a[i] < b[i] // different literals cannot match one subject; keep the order total
		}
	}
	return len(a) > len(b)
}

func tokenRank(tok string) int {
	switch tok {
	case ">":
		return 2
	case "*":
		return 1
	}
	return 0
}

func isLiteral(name string) bool {
	for _, tok := range strings.Split(name, ".") {
		if tok == "*" || tok == ">" {
			return false
		}
	}
	return true
}
