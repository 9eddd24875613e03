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
// It fails when a p99 is over its limit (see failoverLimits): SPEC's 500 ms
// (SIGKILL) and 150 ms (SIGTERM) in the benchmark run, looser in CI.
//
// CI runs 2 of each; the full run is
//
//	STANFT_FAILOVER_BENCH=20 go test -run TestFailoverBench -v -count=1 ./e2e
func TestFailoverBench(t *testing.T) {
	n := 2
	bench := os.Getenv("STANFT_FAILOVER_BENCH")
	if bench != "" {
		var err error
		if n, err = strconv.Atoi(bench); err != nil || n < 1 {
			t.Fatalf("STANFT_FAILOVER_BENCH=%q: want a positive count", bench)
		}
	}
	limits, how, err := failoverLimits(bench != "", os.Getenv("STANFT_FAILOVER_LIMIT_SCALE"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("p99 limits: SIGKILL %v, SIGTERM %v (%s)", limits["SIGKILL"], limits["SIGTERM"], how)
	s := newScenario(t, scenarioOpts{members: 2, ownNATS: true})
	const channel = "bench"
	w, live, pub := s.startLoad(channel, 200)
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
	for _, kind := range []string{"SIGKILL", "SIGTERM"} {
		if p99 := percentile(results[kind], 0.99); p99 > limits[kind] {
			t.Errorf("%s failover p99 %v over the limit %v (%s); samples %v",
				kind, p99.Round(time.Millisecond), limits[kind], how, roundAll(results[kind]))
		}
	}
}

// Failover targets of SPEC (issue "3/5 Fault tolerance", point 5), default
// settings: signal to the first PubAck from the new active, p99.
const (
	specKillFailover = 500 * time.Millisecond // after SIGKILL of the active
	specStopFailover = 150 * time.Millisecond // after SIGTERM or a step-down
)

// ciLimitScale scales the SPEC limits in the default (CI) run: 2 samples of
// each kind on a loaded 2-core machine where other test packages run in
// parallel (a SIGTERM sample of ~230 ms was once seen there), against ~100 ms
// (SIGKILL) and ~60-90 ms (SIGTERM) measured unloaded.
const ciLimitScale = 3

// ciLimitCap bounds the scaled CI limits below the default missed-heartbeat
// interval (1 s), so that a regression to "a standby waits for the missed
// interval" still fails in CI, also for SIGKILL (500 ms x 3 would not).
const ciLimitCap = 900 * time.Millisecond

// failoverLimits returns the p99 limit per failover kind and how it was
// chosen. With scaleEnv (STANFT_FAILOVER_LIMIT_SCALE) set, the limits are the
// SPEC limits times that factor, uncapped. Otherwise the benchmark run uses
// the SPEC limits as they are, and the CI run scales them by ciLimitScale
// capped at ciLimitCap.
func failoverLimits(bench bool, scaleEnv string) (map[string]time.Duration, string, error) {
	spec := map[string]time.Duration{"SIGKILL": specKillFailover, "SIGTERM": specStopFailover}
	limits := make(map[string]time.Duration, len(spec))
	switch {
	case scaleEnv != "":
		scale, err := strconv.ParseFloat(scaleEnv, 64)
		if err != nil || scale <= 0 {
			return nil, "", fmt.Errorf("STANFT_FAILOVER_LIMIT_SCALE=%q: want a positive number", scaleEnv)
		}
		for k, d := range spec {
			limits[k] = time.Duration(float64(d) * scale)
		}
		return limits, fmt.Sprintf("SPEC x %g from STANFT_FAILOVER_LIMIT_SCALE", scale), nil
	case bench:
		return spec, "SPEC, benchmark run", nil
	default:
		for k, d := range spec {
			limits[k] = min(d*ciLimitScale, ciLimitCap)
		}
		return limits, fmt.Sprintf("CI run: SPEC x %d, at most %v; STANFT_FAILOVER_LIMIT_SCALE overrides", ciLimitScale, ciLimitCap), nil
	}
}

// percentile returns the p-quantile of ds (nearest rank), 0 when empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func summarize(kind string, ds []time.Duration) string {
	if len(ds) == 0 {
		return kind + ": no samples"
	}
	return fmt.Sprintf("%s failovers: n=%d p50=%v p99=%v max=%v (signal to first PubAck from the new active)",
		kind, len(ds), percentile(ds, 0.50).Round(time.Millisecond), percentile(ds, 0.99).Round(time.Millisecond),
		percentile(ds, 1).Round(time.Millisecond))
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
	return percentile(ds, p).Round(time.Millisecond)
}

func TestFailoverLimits(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		bench      bool
		env        string
		kill, stop time.Duration
		wantErr    bool
	}{
		{bench: false, kill: 900 * ms, stop: 450 * ms},
		{bench: true, kill: 500 * ms, stop: 150 * ms},
		{bench: true, env: "2", kill: 1000 * ms, stop: 300 * ms},
		{bench: false, env: "0.01", kill: 5 * ms, stop: 1500 * time.Microsecond},
		{bench: false, env: "x", wantErr: true},
		{bench: false, env: "0", wantErr: true},
	} {
		l, how, err := failoverLimits(c.bench, c.env)
		if (err != nil) != c.wantErr {
			t.Errorf("failoverLimits(%v, %q): error %v, want error %v", c.bench, c.env, err, c.wantErr)
			continue
		}
		if err == nil && (l["SIGKILL"] != c.kill || l["SIGTERM"] != c.stop) {
			t.Errorf("failoverLimits(%v, %q) = %v (%s), want SIGKILL %v SIGTERM %v", c.bench, c.env, l, how, c.kill, c.stop)
		}
	}
}
