package monitor

import (
	"encoding/json"
	"testing"
)

// TestChannelSubscriptionsReferenceOrder: channelsz lists a channel's
// subscriptions as the reference does: online plain and durable ones, then
// offline durables, then each queue group's members together (SPEC §9),
// whatever order the Source returns them in.
func TestChannelSubscriptionsReferenceOrder(t *testing.T) {
	src := newFakeSource()
	sub := func(inbox, durable, queue string, offline bool) Subscriptionz {
		return Subscriptionz{ClientID: "c", Inbox: inbox, DurableName: durable, QueueName: queue,
			IsDurable: durable != "", IsOffline: offline, MaxInflight: 1, AckWait: 30}
	}
	// In creation (ID) order, as server.Channel returns them.
	src.channels["mix"] = Channelz{Name: "mix", SubsCount: 7, Subscriptions: []Subscriptionz{
		sub("d1", "d1", "", true),
		sub("qa1", "", "qa", false),
		sub("p1", "", "", false),
		sub("dqg", "dq", "dq:g", true),
		sub("p2", "dur2", "", false),
		sub("qa2", "", "qa", false),
		sub("d3", "d3", "", true),
	}}
	want := []string{"p1", "p2", "d1", "d3", "qa1", "qa2", "dqg"}
	check := func(path string, subs []Subscriptionz) {
		t.Helper()
		var got []string
		for _, s := range subs {
			got = append(got, s.Inbox)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", path, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: %v, want %v", path, got, want)
			}
		}
	}
	m := newTestMonitor(t, src, nil)
	var one Channelz
	if err := json.Unmarshal(get(t, m.Handler(), "/streaming/channelsz?channel=mix&subs=1").Body.Bytes(), &one); err != nil {
		t.Fatal(err)
	}
	check("channel=mix", one.Subscriptions)
	var list Channelsz
	if err := json.Unmarshal(get(t, m.Handler(), "/streaming/channelsz?subs=1").Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Channels {
		if c.Name == "mix" {
			check("channelsz?subs=1", c.Subscriptions)
			return
		}
	}
	t.Fatal("mix not listed")
}
