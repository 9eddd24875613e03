package drill

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestLongestGap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	times := []time.Time{at(30), at(0), at(10), at(20), at(1520), at(1530), at(5000)}
	// From 15 ms: the last ack before (10 ms) and everything after count.
	gap, s, e := longestGap(times, at(15))
	if gap != 3470*time.Millisecond || !s.Equal(at(1530)) || !e.Equal(at(5000)) {
		t.Errorf("gap %v [%v, %v]", gap, s, e)
	}
	gap, s, e = longestGap([]time.Time{at(0), at(10), at(1510), at(1520)}, at(5))
	if gap != 1500*time.Millisecond || !s.Equal(at(10)) || !e.Equal(at(1510)) {
		t.Errorf("gap %v [%v, %v]", gap, s, e)
	}
	// A big gap before the window is not the failover's.
	if gap, _, _ = longestGap([]time.Time{at(0), at(3000), at(3010), at(3020)}, at(3005)); gap != 10*time.Millisecond {
		t.Errorf("gap before the window counted: %v", gap)
	}
	if gap, _, _ = longestGap(nil, at(0)); gap != 0 {
		t.Errorf("empty: %v", gap)
	}
}

func TestHistoryFill(t *testing.T) {
	h := newHistory()
	now := time.Now()
	for id := uint64(1); id <= 6; id++ {
		h.publish(true)
	}
	h.publish(false) // refused at once
	h.ack(1, now, nil)
	h.ack(2, now.Add(10*time.Millisecond), nil)
	h.ack(3, now.Add(2*time.Second), nil)
	h.ack(4, now.Add(2*time.Second+10*time.Millisecond), nil)
	h.ack(5, time.Time{}, errors.New("stan: publish ack timeout"))
	h.ack(6, now.Add(3*time.Second), nil)
	h.deliver(1, false)
	h.deliver(2, false)
	h.deliver(2, true) // duplicate, redelivered
	h.deliver(4, false)
	h.deliver(5, false) // stored although its ack timed out
	// 3 and 6 acknowledged, never delivered: lost.
	if h.settled() != true {
		t.Error("every publish has an outcome: want settled")
	}
	c := h.counts()
	if c.published != 7 || c.acked != 5 || c.failed != 2 || c.delivered != 4 || c.missing != 2 {
		t.Errorf("counts %+v", c)
	}
	var r Report
	h.fill(&r, now)
	want := Report{Published: 7, Acknowledged: 5, Unacknowledged: 2, Delivered: 4, Duplicated: 1,
		Redelivered: 1, DeliveredUnacknowledged: 1, Lost: 2}
	if r.Published != want.Published || r.Acknowledged != want.Acknowledged || r.Unacknowledged != want.Unacknowledged ||
		r.Delivered != want.Delivered || r.Duplicated != want.Duplicated || r.Redelivered != want.Redelivered ||
		r.DeliveredUnacknowledged != want.DeliveredUnacknowledged || r.Lost != want.Lost {
		t.Errorf("report %+v\nwant     %+v", r, want)
	}
	if len(r.LostIDs) != 2 || r.LostIDs[0] != 3 || r.LostIDs[1] != 6 {
		t.Errorf("lost ids %v, want [3 6]", r.LostIDs)
	}
	if r.Outage != 2*time.Second-10*time.Millisecond {
		t.Errorf("outage %v", r.Outage)
	}
	if r.OK() {
		t.Error("a report with lost messages is OK")
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil || !strings.Contains(out.String(), "FAIL: 2 acknowledged message(s) lost") {
		t.Errorf("text report (%v):\n%s", err, out.String())
	}
	b, err := json.Marshal(&r)
	if err != nil || !bytes.Contains(b, []byte(`"lost":2`)) || !bytes.Contains(b, []byte(`"outage_ns":1990000000`)) {
		t.Errorf("json %s (%v)", b, err)
	}
}

func TestUnsettled(t *testing.T) {
	h := newHistory()
	h.publish(true)
	h.publish(true)
	h.ack(1, time.Now(), nil)
	if h.settled() {
		t.Error("one publish has no outcome yet: want not settled")
	}
}

func TestGaugeValue(t *testing.T) {
	body := []byte(`# HELP stanft_ft_epoch Epoch.
# TYPE stanft_ft_epoch gauge
stanft_ft_epoch_other 9
stanft_ft_epoch 42
stanft_ft_state{state="active"} 1
`)
	if v := gaugeValue(body, "stanft_ft_epoch"); v != 42 {
		t.Errorf("epoch %d, want 42", v)
	}
	if v := gaugeValue(body, "missing"); v != 0 {
		t.Errorf("missing metric: %d", v)
	}
	if v := gaugeValue([]byte("stanft_ft_epoch 1.5e+01\n"), "stanft_ft_epoch"); v != 15 {
		t.Errorf("float form: %d", v)
	}
}

func TestParseArgs(t *testing.T) {
	cfg, asJSON, err := ParseArgs([]string{"--nats", "nats://a:1,nats://b:2", "-cid", "c1", "--ft_group", "g",
		"--members", "http://a:8222, http://b:8222", "--rate", "50", "--json", "--warmup=1s"})
	if err != nil {
		t.Fatal(err)
	}
	if !asJSON || cfg.NATSURL != "nats://a:1,nats://b:2" || cfg.ClusterID != "c1" || cfg.FTGroup != "g" ||
		len(cfg.Members) != 2 || cfg.Members[1] != "http://b:8222" || cfg.Rate != 50 || cfg.Warmup != time.Second ||
		cfg.Mode != ModeStepDown {
		t.Errorf("parsed %+v json=%v", cfg, asJSON)
	}
	if _, _, err := ParseArgs([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	bad := map[string][]string{
		"no members":            {"--ft_group", "g"},
		"step-down needs group": {"--members", "http://a:8222"},
		"bad mode":              {"--members", "http://a:8222", "--mode", "kill"},
		"bad member URL":        {"--members", "a:8222", "--mode", "wait"},
		"zero rate":             {"--members", "http://a:8222", "--mode", "wait", "--rate", "0"},
		"unknown flag":          {"--members", "http://a:8222", "--mode", "wait", "--nope"},
		"extra argument":        {"--members", "http://a:8222", "--mode", "wait", "extra"},
	}
	for name, args := range bad {
		if _, _, err := ParseArgs(args); err == nil {
			t.Errorf("%s: accepted %q", name, args)
		}
	}
	if _, _, err := ParseArgs([]string{"--members", "http://a:8222", "--mode", "wait"}); err != nil {
		t.Errorf("wait mode needs no group: %v", err)
	}
}

func TestCommandBadArgs(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Command(t.Context(), []string{"--mode", "nope"}, &out, &errOut); code != ExitFail {
		t.Errorf("exit %d, want %d", code, ExitFail)
	}
	if !strings.HasPrefix(errOut.String(), "stanft drill: ") || strings.Count(errOut.String(), "\n") != 1 {
		t.Errorf("want one error line, got %q", errOut.String())
	}
	out.Reset()
	if code := Command(t.Context(), []string{"-h"}, &out, &errOut); code != ExitOK || !strings.Contains(out.String(), "Usage: stanft drill") {
		t.Errorf("-h: exit %d, %q", code, out.String())
	}
}

func TestExitCode(t *testing.T) {
	runErr := errors.New("no failover")
	cases := []struct {
		name string
		rep  *Report
		err  error
		want int
	}{
		{"clean", &Report{Acknowledged: 10, Delivered: 10}, nil, ExitOK},
		{"duplicates are not loss", &Report{Acknowledged: 10, Delivered: 10, Duplicated: 3}, nil, ExitOK},
		{"one lost", &Report{Acknowledged: 10, Delivered: 9, Lost: 1, LostIDs: []uint64{4}}, nil, ExitLost},
		{"lost wins over a run error", &Report{Lost: 2}, runErr, ExitLost},
		{"run error, nothing lost", &Report{}, runErr, ExitFail},
		{"run error, no report", nil, runErr, ExitFail},
	}
	for _, c := range cases {
		if got := exitCode(c.rep, c.err); got != c.want {
			t.Errorf("%s: exitCode = %d, want %d", c.name, got, c.want)
		}
	}
}
