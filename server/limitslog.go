package server

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stanft/stanft/store"
)

// logLimits logs the limits table with the reference's layout (SPEC D2,
// §8.9): the global limits, a '*' marking a default value, then the
// per-channel definitions with only the values they change.
func (s *Server) logLimits() {
	for _, line := range limitsTable(s.limits) {
		s.log.Info(line)
	}
}

// limitsTable returns the lines of the limits table.
func limitsTable(l store.Limits) []string {
	const title = "---------- Store Limits ----------"
	width := len(title)
	def := store.DefaultLimits()
	lines := []string{
		title,
		"Channels:        " + limitValue(true, int64(l.MaxChannels), int64(def.MaxChannels), limitCount),
		"--------- Channels Limits --------",
	}
	for _, r := range channelLimitRows(&l.ChannelLimits, &def.ChannelLimits, true) {
		lines = append(lines, fmt.Sprintf("  %-13s: %s", r.name, r.value))
	}
	if len(l.PerChannel) > 0 {
		names := make([]string, 0, len(l.PerChannel))
		maxTokens := 0
		for name := range l.PerChannel {
			names = append(names, name)
			maxTokens = max(maxTokens, strings.Count(name, ".")+1)
		}
		// The reference lists definitions depth first, at each token '>'
		// before '*' before literals.
		sort.Slice(names, func(i, j int) bool { return tableBefore(names[i], names[j]) })
		// An entry's level is the number of other definitions covering
		// it; its parent is the deepest of those (the global limits at
		// level 0). Values are compared once inheritance is applied, so
		// only what differs from the parent's effective value is shown.
		levels := make(map[string]int, len(names))
		for _, name := range names {
			for _, other := range names {
				if other != name && patternCovers(other, name) {
					levels[name]++
				}
			}
		}
		// effective resolves a definition from the ones covering it only.
		effective := func(name string) store.ChannelLimits {
			sub := store.Limits{ChannelLimits: l.ChannelLimits, PerChannel: map[string]*store.ChannelLimits{}}
			for _, other := range names {
				if other == name || patternCovers(other, name) {
					sub.PerChannel[other] = l.PerChannel[other]
				}
			}
			return sub.ForChannel(name)
		}
		var chLines []string
		for _, name := range names {
			parent, level := l.ChannelLimits, levels[name]
			parentLevel := -1
			for _, other := range names {
				if other != name && patternCovers(other, name) && levels[other] > parentLevel {
					parentLevel, parent = levels[other], effective(other)
				}
			}
			own := effective(name)
			pad := strings.Repeat(" ", level)
			padR := strings.Repeat(" ", max(maxTokens-level, 0))
			chLines = append(chLines, pad+name)
			for _, r := range channelLimitRows(&own, &parent, false) {
				chLines = append(chLines, fmt.Sprintf("%s |-> %-13s %s%s", pad, r.name, padR, r.value))
			}
		}
		for _, cl := range chLines {
			width = max(width, len(cl))
		}
		const list = " List of Channels "
		left := (width - len(list)) / 2
		lines = append(lines, strings.Repeat("-", left)+list+strings.Repeat("-", width-len(list)-left))
		lines = append(lines, chLines...)
	}
	return append(lines, strings.Repeat("-", width))
}

// tableBefore orders limits definitions as the reference's table does:
// token by token, '>' before '*' before literal tokens (by name), a name
// before the longer names it prefixes.
func tableBefore(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	rank := func(tok string) int {
		switch tok {
		case ">":
			return 0
		case "*":
			return 1
		}
		return 2
	}
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == tb[i] {
			continue
		}
		if ra, rb := rank(ta[i]), rank(tb[i]); ra != rb {
			return ra < rb
		}
		return ta[i] < tb[i]
	}
	return len(ta) < len(tb)
}

// patternCovers reports whether every channel name matches matches the
// limits pattern covers too ('*' one token, '>' the rest).
func patternCovers(pattern, name string) bool {
	p, n := strings.Split(pattern, "."), strings.Split(name, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(n) > i
		}
		if i >= len(n) {
			return false
		}
		switch {
		case tok == "*":
			if n[i] == ">" {
				return false
			}
		case tok != n[i]:
			return false
		}
	}
	return len(p) == len(n)
}

const (
	limitCount = iota
	limitBytes
	limitDuration
)

type limitRow struct{ name, value string }

// channelLimitRows formats the channel limits of cl against parent: every
// limit for the global block, only those that differ for a channel.
func channelLimitRows(cl, parent *store.ChannelLimits, global bool) []limitRow {
	var rows []limitRow
	add := func(name string, v, pv int64, kind int) {
		if !global && v == pv {
			return // inherited
		}
		rows = append(rows, limitRow{name, limitValue(global, v, pv, kind)})
	}
	add("Subscriptions", int64(cl.MaxSubscriptions), int64(parent.MaxSubscriptions), limitCount)
	add("Messages", int64(cl.MaxMsgs), int64(parent.MaxMsgs), limitCount)
	add("Bytes", cl.MaxBytes, parent.MaxBytes, limitBytes)
	add("Age", int64(cl.MaxAge), int64(parent.MaxAge), limitDuration)
	add("Inactivity", int64(cl.MaxInactivity), int64(parent.MaxInactivity), limitDuration)
	return rows
}

// limitValue formats one limit right-aligned on 13 columns, followed by
// " *" when a global limit has its default value.
func limitValue(global bool, v, def int64, kind int) string {
	var txt string
	switch {
	case v <= 0:
		txt = "unlimited"
	case kind == limitBytes:
		txt = store.FriendlyBytes(v)
	case kind == limitDuration:
		txt = time.Duration(v).String()
	default:
		txt = fmt.Sprint(v)
	}
	mark := ""
	if global && v == def {
		mark = " *"
	}
	return fmt.Sprintf("%13s%s", txt, mark)
}
