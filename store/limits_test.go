package store

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultLimits(t *testing.T) {
	l := DefaultLimits()
	want := Limits{
		MaxChannels: 100,
		ChannelLimits: ChannelLimits{
			MaxSubscriptions: 1000,
			MaxMsgs:          1000000,
			MaxBytes:         1024000000,
		},
	}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("DefaultLimits() = %+v, want %+v", l, want)
	}
	if err := l.Validate(); err != nil {
		t.Fatalf("DefaultLimits().Validate() = %v", err)
	}
}

func TestLimitsValidate(t *testing.T) {
	per := func(names ...string) map[string]*ChannelLimits {
		m := map[string]*ChannelLimits{}
		for _, n := range names {
			m[n] = &ChannelLimits{MaxMsgs: 1}
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		mod     func(*Limits)
		wantErr string // "" for valid
	}{
		{"defaults", func(*Limits) {}, ""},
		{"zero is unlimited", func(l *Limits) { *l = Limits{} }, ""},
		{"neg channels", func(l *Limits) { l.MaxChannels = -1 }, "max channels limit cannot be negative (-1)"},
		{"neg subs", func(l *Limits) { l.MaxSubscriptions = -2 }, "max subscriptions limit cannot be negative (-2)"},
		{"neg msgs", func(l *Limits) { l.MaxMsgs = -1 }, "max messages limit cannot be negative (-1)"},
		{"neg bytes", func(l *Limits) { l.MaxBytes = -1 }, "max bytes limit cannot be negative (-1)"},
		{"neg age", func(l *Limits) { l.MaxAge = -time.Second }, "max age limit cannot be negative (-1s)"},
		{"neg inactivity", func(l *Limits) { l.MaxInactivity = -time.Second }, "max inactivity limit cannot be negative (-1s)"},
		{"per-channel negative is unlimited", func(l *Limits) {
			l.PerChannel = map[string]*ChannelLimits{"foo": {MaxMsgs: -1, MaxBytes: -1, MaxAge: -1, MaxSubscriptions: -1, MaxInactivity: -1}}
		}, ""},
		{"wildcards ok", func(l *Limits) { l.PerChannel = per("foo.*", "foo.>", ">", "*.bar") }, ""},
		{"bad name", func(l *Limits) { l.PerChannel = per("foo..bar") }, `invalid channel name "foo..bar"`},
		{"bad wildcard", func(l *Limits) { l.PerChannel = per("foo.>.bar") }, `invalid channel name "foo.>.bar"`},
		{"partial wildcard", func(l *Limits) { l.PerChannel = per("foo*") }, `invalid channel name "foo*"`},
		{"nil entry", func(l *Limits) { l.PerChannel = map[string]*ChannelLimits{"foo": nil} }, `no limits defined for channel "foo"`},
		{"literals up to max", func(l *Limits) { l.MaxChannels = 2; l.PerChannel = per("a", "b", "c.*", "c.>") }, ""},
		{"too many literals", func(l *Limits) { l.MaxChannels = 2; l.PerChannel = per("a", "b", "c", "d.>") },
			"too many channels defined (3). The max channels limit is set to 2"},
		// The reference stops counting at the first literal over the limit.
		{"far too many literals", func(l *Limits) { l.MaxChannels = 2; l.PerChannel = per("a", "b", "c", "d", "e") },
			"too many channels defined (3). The max channels limit is set to 2"},
		{"unlimited channels", func(l *Limits) { l.MaxChannels = 0; l.PerChannel = per("a", "b", "c") }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := DefaultLimits()
			tc.mod(&l)
			err := l.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate() = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestLimitsForChannel(t *testing.T) {
	global := ChannelLimits{MaxMsgs: 100, MaxBytes: 1000, MaxAge: time.Hour, MaxSubscriptions: 10, MaxInactivity: time.Minute}
	l := Limits{
		MaxChannels:   50,
		ChannelLimits: global,
		PerChannel: map[string]*ChannelLimits{
			">":           {MaxInactivity: 2 * time.Minute},
			"foo.>":       {MaxMsgs: 50, MaxBytes: -1},
			"foo.*":       {MaxMsgs: 40},
			"foo.bar":     {MaxSubscriptions: 3},
			"foo.*.baz":   {MaxAge: time.Second},
			"foo.bar.>":   {MaxMsgs: -1},
			"foo.bar.baz": {MaxBytes: 7},
			"*.bar":       {MaxAge: 2 * time.Second, MaxSubscriptions: 9},
			"lit":         {MaxMsgs: -1, MaxBytes: -1, MaxAge: -1, MaxSubscriptions: -1, MaxInactivity: -1},
		},
	}
	for _, tc := range []struct {
		channel string
		want    ChannelLimits
	}{
		// Only ">" matches: everything global except inactivity.
		{"other", ChannelLimits{MaxMsgs: 100, MaxBytes: 1000, MaxAge: time.Hour, MaxSubscriptions: 10, MaxInactivity: 2 * time.Minute}},
		// foo.bar: literal > foo.* > foo.> > *.bar > ">" (at token 0 the
		// literal "foo" beats "*"; at token 1 "*" beats ">").
		{"foo.bar", ChannelLimits{MaxMsgs: 40, MaxBytes: 0, MaxAge: 2 * time.Second, MaxSubscriptions: 3, MaxInactivity: 2 * time.Minute}},
		// foo.x: foo.* > foo.> > ">".
		{"foo.x", ChannelLimits{MaxMsgs: 40, MaxBytes: 0, MaxAge: time.Hour, MaxSubscriptions: 10, MaxInactivity: 2 * time.Minute}},
		// foo.x.y: foo.> > ">".
		{"foo.x.y", ChannelLimits{MaxMsgs: 50, MaxBytes: 0, MaxAge: time.Hour, MaxSubscriptions: 10, MaxInactivity: 2 * time.Minute}},
		// foo.bar.baz: literal > foo.bar.> > foo.*.baz > foo.> > ">".
		{"foo.bar.baz", ChannelLimits{MaxMsgs: 0, MaxBytes: 7, MaxAge: time.Second, MaxSubscriptions: 10, MaxInactivity: 2 * time.Minute}},
		// foo.q.baz: foo.*.baz > foo.> > ">".
		{"foo.q.baz", ChannelLimits{MaxMsgs: 50, MaxBytes: 0, MaxAge: time.Second, MaxSubscriptions: 10, MaxInactivity: 2 * time.Minute}},
		// x.bar: *.bar > ">".
		{"x.bar", ChannelLimits{MaxMsgs: 100, MaxBytes: 1000, MaxAge: 2 * time.Second, MaxSubscriptions: 9, MaxInactivity: 2 * time.Minute}},
		// lit: everything unlimited.
		{"lit", ChannelLimits{}},
		// "foo" alone: foo.> needs at least one more token; only ">".
		{"foo", ChannelLimits{MaxMsgs: 100, MaxBytes: 1000, MaxAge: time.Hour, MaxSubscriptions: 10, MaxInactivity: 2 * time.Minute}},
	} {
		if got := l.ForChannel(tc.channel); got != tc.want {
			t.Errorf("ForChannel(%q) = %+v, want %+v", tc.channel, got, tc.want)
		}
	}
	// Without per-channel entries every channel gets the global limits.
	if got := (&Limits{ChannelLimits: global}).ForChannel("x"); got != global {
		t.Errorf("ForChannel without per-channel = %+v, want %+v", got, global)
	}
}

func TestLimitsClone(t *testing.T) {
	l := DefaultLimits()
	l.PerChannel = map[string]*ChannelLimits{"foo": {MaxMsgs: 5}, "bar.>": {MaxAge: time.Second}}
	c := l.Clone()
	if !reflect.DeepEqual(c, l) {
		t.Fatalf("Clone() = %+v, want %+v", c, l)
	}
	c.PerChannel["foo"].MaxMsgs = 6
	c.PerChannel["new"] = &ChannelLimits{}
	c.MaxChannels = 1
	if l.PerChannel["foo"].MaxMsgs != 5 || len(l.PerChannel) != 2 || l.MaxChannels != 100 {
		t.Fatalf("changing the clone changed the original: %+v", l)
	}
	if (Limits{}).Clone().PerChannel != nil {
		t.Fatal("Clone of nil PerChannel is not nil")
	}
}

func TestChannelLimitsExceeded(t *testing.T) {
	cases := []struct {
		lim   ChannelLimits
		msgs  int
		bytes uint64
		want  bool
	}{
		{ChannelLimits{}, 1 << 30, 1 << 40, false},
		{ChannelLimits{MaxMsgs: 2}, 2, 1 << 40, false},
		{ChannelLimits{MaxMsgs: 2}, 3, 0, true},
		{ChannelLimits{MaxBytes: 10}, 1 << 30, 10, false},
		{ChannelLimits{MaxBytes: 10}, 1, 11, true},
		{ChannelLimits{MaxMsgs: 5, MaxBytes: 10}, 6, 1, true},
	}
	for _, c := range cases {
		if got := c.lim.Exceeded(c.msgs, c.bytes); got != c.want {
			t.Errorf("%+v.Exceeded(%d, %d) = %v, want %v", c.lim, c.msgs, c.bytes, got, c.want)
		}
	}
	want := `Reached limits for store "foo" (msgs=2/2 bytes=7 B/976.56 MB), dropping old messages to make room for new ones`
	if got := LimitsReachedMessage("foo", 2, 7, ChannelLimits{MaxMsgs: 2, MaxBytes: DefaultMaxBytes}); got != want {
		t.Errorf("LimitsReachedMessage = %q, want %q", got, want)
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.00 KB", 1536: "1.50 KB",
		5 << 20: "5.00 MB", 3 << 30: "3.00 GB", math.MaxInt64: "8.00 EB"} {
		if got := FriendlyBytes(n); got != want {
			t.Errorf("FriendlyBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
