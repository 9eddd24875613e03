package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// clusterIDFor derives a cluster ID unique to the test, so tests sharing the
// NATS server never see each other's subjects.
func clusterIDFor(t *testing.T) string {
	t.Helper()
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		default:
			return '-'
		}
	}, t.Name())
	return "e2e-" + id
}

// scenario is a running group plus the client configuration to reach it.
type scenario struct {
	t    *testing.T
	g    *Group
	nats string
	cid  string
	// excused: windows in which a frozen, resumed old active may still
	// deliver (CheckDeliveryOrder).
	excused []Window
}

type scenarioOpts struct {
	members   int
	proxy     bool
	ownNATS   bool
	extraArgs []string
}

func newScenario(t *testing.T, o scenarioOpts) *scenario {
	t.Helper()
	requireStanft(t)
	url := sharedURL
	if o.ownNATS {
		_, url = StartNATS(t)
	}
	cid := clusterIDFor(t)
	g := StartGroup(t, GroupConfig{
		Bin:       stanftBin,
		NATSURL:   url,
		Members:   o.members,
		ClusterID: cid,
		Proxy:     o.proxy,
		ExtraArgs: o.extraArgs,
	})
	return &scenario{t: t, g: g, nats: url, cid: cid}
}

func (s *scenario) client(name string) ClientConfig {
	return ClientConfig{ClusterID: s.cid, NATSURL: s.nats, ClientID: name}
}

func (s *scenario) publisher(channel string, interval time.Duration) *Publisher {
	return StartPublisher(s.t, PublisherConfig{
		ClientConfig: s.client("pub"),
		Channel:      channel,
		Interval:     interval,
	})
}

// startLoad starts the usual load of a scenario on channel: a state
// watcher, a durable live subscriber and a publisher every millisecond, and
// waits for the first acks PubAcks.
func (s *scenario) startLoad(channel string, acks int) (*StateWatcher, *Subscriber, *Publisher) {
	s.t.Helper()
	w := WatchStates(s.g, 20*time.Millisecond)
	live := StartSubscriber(s.t, SubscriberConfig{ClientConfig: s.client("live"), Channel: channel, Durable: "live"})
	pub := s.publisher(channel, time.Millisecond)
	if err := pub.WaitAcks(acks, 20*time.Second); err != nil {
		s.t.Fatal(err)
	}
	return w, live, pub
}

// verify stops the publisher, waits for the live subscriber (if any) to have
// every acknowledged id, reads the channel back from sequence 1 and checks
// the invariants. It returns the report.
//
// failovers is the number of failovers the scenario caused: a live
// subscription may see its order restart once per failover.
func (s *scenario) verify(pub *Publisher, sub *Subscriber, channel string, failovers int) Report {
	t := s.t
	t.Helper()
	pub.Stop(10 * time.Second)
	if err := pub.Lost(); err != nil {
		t.Errorf("publisher lost its STAN session: %v", err)
	}
	acks := pub.Acks()
	if len(acks) == 0 {
		t.Fatal("no publish was acknowledged")
	}
	ids := make([]uint64, len(acks))
	for i, a := range acks {
		ids[i] = a.ID
	}
	if sub != nil {
		if err := sub.WaitIDs(ids, 30*time.Second); err != nil {
			t.Error(err)
			s.logChannel(channel)
			ds := sub.Deliveries()
			if len(ds) > 0 {
				var maxSeq uint64
				redelivered := 0
				for _, d := range ds {
					maxSeq = max(maxSeq, d.Seq)
					if d.Redelivered {
						redelivered++
					}
				}
				last := ds[len(ds)-1]
				t.Logf("%d deliveries (%d redelivered), highest seq %d; last: seq %d at %s",
					len(ds), redelivered, maxSeq, last.Seq, last.At.Format("15:04:05.000"))
			}
		}
		if err := CheckDeliveryOrder(sub.Deliveries(), failovers, s.excused...); err != nil {
			t.Error(err)
		}
		if err := sub.Lost(); err != nil {
			t.Errorf("subscriber lost its STAN session: %v", err)
		}
	}
	last := s.lastSeq(channel)
	stored, err := ReadChannel(s.client(fmt.Sprintf("reader-%d", time.Now().UnixNano())), channel, last, 30*time.Second)
	if err != nil {
		t.Fatalf("read back %s: %v", channel, err)
	}
	h := History{Acks: acks, Stored: stored}
	r, err := CheckNoAckedLoss(h)
	if err != nil {
		t.Error(err)
	}
	if err := CheckPublishOrder(h); err != nil {
		t.Error(err)
	}
	lat := make([]time.Duration, 0, len(acks))
	for _, a := range acks {
		lat = append(lat, a.Acked.Sub(a.Sent))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("acked %d, stored %d sequences, duplicated %d, publish errors %v; PubAck latency p50 %v p99 %v",
		r.Acked, r.StoredSeqs, r.Duplicated, pub.Errors(),
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond))
	return r
}

// lastSeq asks the active member's /streaming/channelsz for the channel's last
// sequence.
func (s *scenario) lastSeq(channel string) uint64 {
	s.t.Helper()
	m, err := s.g.WaitActive(10*time.Second, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := m.Channelz(channel)
	if err != nil {
		s.t.Fatal(err)
	}
	return c.LastSeq
}

// checkStates stops the watcher and checks that it saw an active member, and
// never two at once.
func (s *scenario) checkStates(w *StateWatcher) {
	s.t.Helper()
	w.Stop()
	active := 0
	for _, m := range s.g.Members {
		active += w.ActiveCount(m.Index)
	}
	if active == 0 {
		s.t.Errorf("the state watcher never saw an active member (%d samples)", len(w.Samples()))
	}
	if err := w.CheckSingleActive(); err != nil {
		s.t.Error(err)
	}
}

// logChannel logs the active's view of a channel and its subscriptions, to
// explain a delivery failure.
func (s *scenario) logChannel(channel string) {
	m, err := s.g.Active()
	if err != nil || m == nil {
		s.t.Logf("no single active to ask about %s: %v", channel, err)
		return
	}
	body, err := m.Get("/streaming/channelsz?channel=" + channel + "&subs=1")
	s.t.Logf("%s channelsz of %s: %s (%v)", m.Name(), channel, body, err)
}
