package server

import (
	"strings"
	"testing"
	"time"

	"github.com/stanft/stanft/store"
)

// TestLimitsTable: the startup limits table has the reference's layout
// (SPEC D2, §8.9).
func TestLimitsTable(t *testing.T) {
	want := strings.Join([]string{
		"---------- Store Limits ----------",
		"Channels:                  100 *",
		"--------- Channels Limits --------",
		"  Subscriptions:          1000 *",
		"  Messages     :       1000000 *",
		"  Bytes        :     976.56 MB *",
		"  Age          :     unlimited *",
		"  Inactivity   :     unlimited *",
		"----------------------------------",
	}, "\n")
	if got := strings.Join(limitsTable(store.DefaultLimits()), "\n"); got != want {
		t.Fatalf("default table:\n%s\nwant:\n%s", got, want)
	}
	l := store.DefaultLimits()
	l.MaxChannels = 10
	l.MaxAge = time.Hour
	l.PerChannel = map[string]*store.ChannelLimits{
		"foo.>":   {MaxMsgs: 50},
		"foo.bar": {MaxMsgs: 50, MaxBytes: 1024},
	}
	got := limitsTable(l)
	for _, w := range []string{
		"Channels:                   10",
		"  Age          :        1h0m0s",
		"foo.>",
		" |-> Messages        " + "           50",
		" foo.bar",
		"  |-> Bytes          " + "      1.00 KB",
	} {
		found := false
		for _, line := range got {
			if line == w {
				found = true
			}
		}
		if !found {
			t.Errorf("line %q missing in\n%s", w, strings.Join(got, "\n"))
		}
	}
	for _, line := range got {
		if strings.Contains(line, "foo.bar") || !strings.Contains(line, "Messages") {
			continue
		}
		if strings.HasPrefix(line, "  |->") {
			t.Errorf("foo.bar repeats its parent's Messages: %q", line)
		}
	}
}

// TestLimitsTableOverlappingWildcards: with foo.>, foo.* and foo.bar the
// reference lists foo.> first, then foo.* under it, then foo.bar under
// foo.*, each showing only what differs from its parent's effective limits
// (SPEC §7.4).
func TestLimitsTableOverlappingWildcards(t *testing.T) {
	l := store.DefaultLimits()
	l.PerChannel = map[string]*store.ChannelLimits{
		"foo.bar": {MaxMsgs: 50, MaxBytes: 1024},
		"foo.*":   {MaxInactivity: time.Second},
		"foo.>":   {MaxMsgs: 50},
		"baz":     {MaxSubscriptions: -1, MaxAge: -1},
	}
	got := limitsTable(l)
	var list []string
	for i, line := range got {
		if strings.Contains(line, " List of Channels ") {
			list = got[i+1 : len(got)-1]
		}
	}
	want := []string{
		"baz",
		" |-> Subscriptions       unlimited",
		"foo.>",
		" |-> Messages                   50",
		" foo.*",
		"  |-> Inactivity                1s",
		"  foo.bar",
		"   |-> Bytes               1.00 KB",
	}
	if strings.Join(list, "\n") != strings.Join(want, "\n") {
		t.Fatalf("channels list:\n%s\nwant:\n%s", strings.Join(list, "\n"), strings.Join(want, "\n"))
	}
}
