package monitor

import (
	"slices"
	"sync"
	"time"
)

// fakeSource is a Source whose snapshots are set by hand.
type fakeSource struct {
	mu       sync.Mutex
	serverz  Serverz
	storez   Storez
	clients  map[string]Clientz  // with subscriptions
	channels map[string]Channelz // with subscriptions
}

func (f *fakeSource) Serverz() Serverz {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.serverz
}

func (f *fakeSource) Storez() Storez {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.storez
}

func (f *fakeSource) ClientIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.clients))
	for id := range f.clients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (f *fakeSource) Client(id string, subs bool) (Clientz, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[id]
	if !subs {
		c.Subscriptions = nil
	}
	return c, ok
}

func (f *fakeSource) ChannelNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.channels))
	for n := range f.channels {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (f *fakeSource) Channel(name string, subs bool) (Channelz, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.channels[name]
	if !subs {
		c.Subscriptions = nil
	}
	return c, ok
}

func (f *fakeSource) setState(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serverz.State = s
}

// newFakeSource returns a source with three clients and three channels
// covering plain, durable, queue, durable queue and offline subscriptions.
func newFakeSource() *fakeSource {
	zone := time.FixedZone("CET", 3600)
	start := time.Date(2026, 11, 28, 17, 2, 3, 123456789, zone)
	now := start.Add(25*time.Hour + 4*time.Minute + 5*time.Second + 500*time.Millisecond)
	sub := func(client, inbox, durable, queue string, offline bool, lastSent uint64, pending int) Subscriptionz {
		return Subscriptionz{
			ClientID: client, Inbox: inbox, AckInbox: "_INBOX.ack." + inbox,
			DurableName: durable, QueueName: queue, IsDurable: durable != "", IsOffline: offline,
			MaxInflight: 1024, AckWait: 30, LastSent: lastSent, PendingCount: pending, IsStalled: pending >= 1024,
		}
	}
	fooPlain := sub("c1", "_INBOX.s1", "", "", false, 10, 2)
	fooDur := sub("c2", "_INBOX.s2", "dur", "", false, 12, 0)
	fooOffline := sub("gone", "_INBOX.s3", "old", "", true, 7, 0)
	barQ1 := sub("c1", "_INBOX.q1", "", "grp", false, 5, 1)
	barQ2 := sub("c2", "_INBOX.q2", "", "grp", false, 4, 1)
	bazDQ := sub("c3<&>", "_INBOX.dq", "dq", "dq:workers", true, 3, 0)
	return &fakeSource{
		serverz: Serverz{
			ClusterID: "test-cluster", ServerID: "SRVID", Version: "0.1.0", GoVersion: "go1.26.0",
			State: "FT_ACTIVE", Now: now, Start: start, Uptime: FormatUptime(now.Sub(start)),
			Clients: 3, Subscriptions: 6, Channels: 3, TotalMsgs: 30, TotalBytes: 3000,
			InMsgs: 31, InBytes: 3100, OutMsgs: 40, OutBytes: 4000, OpenFDs: 20, MaxFDs: 1048576,
		},
		storez: Storez{
			ClusterID: "test-cluster", ServerID: "SRVID", Now: now, Type: "FILE",
			Limits: StoreLimits{
				MaxChannels: 100,
				ChannelLimits: ChannelLimits{
					MaxMsgs: 1000000, MaxBytes: 1 << 30, MaxAge: 0, MaxSubscriptions: 1000, MaxInactivity: 0,
				},
				PerChannel: map[string]*ChannelLimits{
					"foo": {MaxMsgs: 10, MaxBytes: 1 << 30, MaxAge: 90 * time.Second, MaxSubscriptions: 1000},
				},
			},
			TotalMsgs: 30, TotalBytes: 3000,
		},
		clients: map[string]Clientz{
			"c1": {ID: "c1", HBInbox: "_INBOX.hb1", SubsCount: 2, Subscriptions: map[string][]Subscriptionz{
				"foo": {fooPlain}, "bar": {barQ1},
			}},
			"c2": {ID: "c2", HBInbox: "_INBOX.hb2", SubsCount: 2, Subscriptions: map[string][]Subscriptionz{
				"foo": {fooDur}, "bar": {barQ2},
			}},
			"c3<&>": {ID: "c3<&>", HBInbox: "_INBOX.hb3"},
		},
		channels: map[string]Channelz{
			"foo":   {Name: "foo", Msgs: 10, Bytes: 1000, FirstSeq: 3, LastSeq: 12, SubsCount: 3, Subscriptions: []Subscriptionz{fooPlain, fooDur, fooOffline}},
			"bar":   {Name: "bar", Msgs: 20, Bytes: 2000, FirstSeq: 1, LastSeq: 20, SubsCount: 2, Subscriptions: []Subscriptionz{barQ1, barQ2}},
			"baz.x": {Name: "baz.x", SubsCount: 1, Subscriptions: []Subscriptionz{bazDQ}},
		},
	}
}
