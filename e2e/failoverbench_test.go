package e2e

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFailoverBench measures failovers of a two-member group under a steady
// publisher (one message per millisecond, 200 ms PubAck wait, retried): N
// SIGKILLs then N SIGTERMs of the active, each followed by a restart of the
// old member as a standby. It prints p50, p99 and max of the time from the
// signal to the first PubAck from the new active, and the messages lost (must
// be 0) and duplicated (stored twice because a retried publish had been
// stored but not acknowledged).
//
// CI runs 2 of each; the full run is
//
//	STANFT_FAILOVER_BENCH=20 go test -run TestFailoverBench -v -count=1 ./e2e
func TestFailoverBench(t *testing.T) {
	n := 2
	if v := os.Getenv("STANFT_FAILOVER_BENCH"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("STANFT_FAILOVER_BENCH=%q: want a positive count", v)
		}
	}
	s := newScenario(t, scenarioOpts{members: 2, ownNATS: true})
	w := WatchStates(s.g, 20*time.Millisecond)
	const channel = "bench"
	live := StartSubscriber(t, SubscriberConfig{ClientConfig: s.client("live"), Channel: channel, Durable: "live"})
	pub := s.publisher(channel, time.Millisecond)
	if err := pub.WaitAcks(200, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	results := map[string][]time.Duration{}
	type event struct {
		kind string
		at   time.Time
	}
	var events []event
	for _, kind := range []string{"SIGKILL", "SIGTERM"} {
		for i := 0; i < n; i++ {
			old, err := s.g.WaitActive(10*time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			before := pub.AckCount()
			at := time.Now()
			events = append(events, event{kind, at})
			if kind == "SIGKILL" {
				err = old.Kill()
			} else {
				_, err = old.Stop(15 * time.Second)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.g.WaitActive(15*time.Second, old); err != nil {
				t.Fatalf("%s #%d: %v", kind, i, err)
			}
			if err := pub.WaitAcks(before+100, 15*time.Second); err != nil {
				t.Fatalf("%s #%d: %v", kind, i, err)
			}
			d, ok := OutageAfter(pub.Acks(), at, time.Since(at))
			if !ok {
				t.Fatalf("%s #%d: no PubAck after the failover", kind, i)
			}
			results[kind] = append(results[kind], d)
			if err := old.Start(); err != nil {
				t.Fatal(err)
			}
			if err := old.WaitState(StateStandby, 15*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := s.verify(pub, live, channel, 2*n)
	s.checkStates(w)
	for _, kind := range []string{"SIGKILL", "SIGTERM"} {
		t.Log(summarize(kind, results[kind]))
		t.Logf("%s samples: %v", kind, roundAll(results[kind]))
	}
	// Attribute each duplicate to the last signal at which its first attempt
	// was in flight or before which it was sent ("steady": no signal).
	firstSent := make(map[uint64]time.Time, len(pub.Acks()))
	for _, a := range pub.Acks() {
		firstSent[a.ID] = a.FirstSent
	}
	dups := map[string]int{}
	offsets := map[string][]time.Duration{} // first send relative to the signal
	for _, id := range r.DupIDs {
		kind := "steady"
		var off time.Duration
		for _, e := range events {
			// In flight at the signal (the ack wait is 200 ms) or later.
			if !firstSent[id].Before(e.at.Add(-300 * time.Millisecond)) {
				kind, off = e.kind, firstSent[id].Sub(e.at)
			}
		}
		dups[kind]++
		offsets[kind] = append(offsets[kind], off)
	}
	for kind, offs := range offsets {
		sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
		t.Logf("duplicates after %s: first sent from %v to %v relative to the signal", kind,
			offs[0].Round(time.Millisecond), offs[len(offs)-1].Round(time.Millisecond))
	}
	logPromotions(t, s.g, n)
	t.Logf("messages acknowledged %d, lost %d, duplicated %d (by failover kind: %v)",
		r.Acked, len(r.Lost), r.Duplicated, dups)
}

func summarize(kind string, ds []time.Duration) string {
	if len(ds) == 0 {
		return kind + ": no samples"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	pct := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return fmt.Sprintf("%s failovers: n=%d p50=%v p99=%v max=%v (signal to first PubAck from the new active)",
		kind, len(s), pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// promotedRe matches the elector's promotion line, e.g.
// `2026-11-29T19:11:29.805Z [INFO]  stanft.ft: promoted: epoch=2
// detection="445.838µs" lock_wait=2.533684ms recovery=40.092198ms`.
var promotedRe = regexp.MustCompile(`^(\S+) .*promoted: .*detection="?([^" ]+)"? lock_wait="?([^" ]+)"? recovery="?([^" ]+)"?`)

// logPromotions prints, from the members' logs, how the server side split
// each takeover (detection, lock wait, recovery): the first promotion is the
// initial one, then n after SIGKILL and n after SIGTERM.
func logPromotions(t *testing.T, g *Group, n int) {
	type promo struct {
		at                         time.Time
		detect, lockWait, recovery time.Duration
	}
	var ps []promo
	for _, m := range g.Members {
		for _, line := range strings.Split(m.Logs(), "\n") {
			sm := promotedRe.FindStringSubmatch(line)
			if sm == nil {
				continue
			}
			at, err1 := time.Parse(time.RFC3339Nano, sm[1])
			d, err2 := time.ParseDuration(sm[2])
			l, err3 := time.ParseDuration(sm[3])
			r, err4 := time.ParseDuration(sm[4])
			if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
				continue
			}
			ps = append(ps, promo{at, d, l, r})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].at.Before(ps[j].at) })
	if len(ps) != 2*n+1 {
		t.Logf("server-side split: %d promotion lines, want %d; skipped", len(ps), 2*n+1)
		return
	}
	for k, kind := range []string{"SIGKILL", "SIGTERM"} {
		var d, l, r []time.Duration
		for _, p := range ps[1+k*n : 1+(k+1)*n] {
			d, l, r = append(d, p.detect), append(l, p.lockWait), append(r, p.recovery)
		}
		t.Logf("%s server side (p50/max): detection %v/%v, lock wait %v/%v, recovery %v/%v", kind,
			pctl(d, 0.5), pctl(d, 1), pctl(l, 0.5), pctl(l, 1), pctl(r, 0.5), pctl(r, 1))
	}
}

func pctl(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)].Round(time.Millisecond)
}
