package ft

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHeartbeatRoundTrip(t *testing.T) {
	for _, h := range []Heartbeat{
		{Kind: KindHeartbeat, ServerID: "a", Epoch: 3, State: Active, ActiveSince: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		{Kind: KindHeartbeat, ServerID: "a", Epoch: 1, State: Recovering},
		{Kind: KindStepDownNotice, ServerID: "b", Epoch: 9, State: Standby, RequestID: "r"},
		{Kind: KindStepDownRequest, ServerID: "cli", State: Standby, Target: "a", Epoch: 2, RequestID: "r"},
	} {
		b, err := h.Encode()
		if err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		got, err := DecodeHeartbeat(b)
		if err != nil || got != h {
			t.Fatalf("round trip of %+v: %+v, %v (wire %q)", h, got, err, b)
		}
	}
}

func TestDecodeHeartbeatIsStrict(t *testing.T) {
	valid := `{"kind":"heartbeat","id":"a","epoch":1,"state":"active"}`
	if _, err := DecodeHeartbeat([]byte("STANFT\x01" + valid)); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for name, raw := range map[string]string{
		"empty":           "",
		"garbage":         "hello",
		"no magic":        valid,
		"no version":      "STANFT",
		"bad version":     "STANFT\x02" + valid,
		"not json":        "STANFT\x01{",
		"unknown field":   "STANFT\x01" + `{"kind":"heartbeat","id":"a","epoch":1,"state":"active","x":1}`,
		"trailing data":   "STANFT\x01" + valid + `{}`,
		"unknown kind":    "STANFT\x01" + `{"kind":"hb","id":"a","epoch":1,"state":"active"}`,
		"numeric kind":    "STANFT\x01" + `{"kind":1,"id":"a","epoch":1,"state":"active"}`,
		"unknown state":   "STANFT\x01" + `{"kind":"heartbeat","id":"a","epoch":1,"state":"boss"}`,
		"numeric state":   "STANFT\x01" + `{"kind":"heartbeat","id":"a","epoch":1,"state":3}`,
		"standby hb":      "STANFT\x01" + `{"kind":"heartbeat","id":"a","epoch":1,"state":"standby"}`,
		"epoch 0 hb":      "STANFT\x01" + `{"kind":"heartbeat","id":"a","epoch":0,"state":"active"}`,
		"negative epoch":  "STANFT\x01" + `{"kind":"heartbeat","id":"a","epoch":-1,"state":"active"}`,
		"no id":           "STANFT\x01" + `{"kind":"heartbeat","epoch":1,"state":"active"}`,
		"request no id":   "STANFT\x01" + `{"kind":"step-down-request","id":"c","epoch":0,"state":"standby"}`,
		"oversized":       "STANFT\x01" + `{"kind":"heartbeat","id":"` + strings.Repeat("a", 3000) + `","epoch":1,"state":"active"}`,
		"json null":       "STANFT\x01null",
		"missing kind":    "STANFT\x01" + `{"id":"a","epoch":1,"state":"active"}`,
		"duplicate magic": "STANFTSTANFT\x01" + valid,
	} {
		if _, err := DecodeHeartbeat([]byte(raw)); !errors.Is(err, ErrMalformedMessage) {
			t.Errorf("%s: err = %v, want ErrMalformedMessage", name, err)
		}
	}
	// A nats-streaming-server heartbeat: CtrlMsg{MsgType: 3, ServerID, Data}.
	ref := []byte("\x08\x03\x12\x16ABCDEFGHIJKLMNOPQRSTUV\x1a\x0f\x01\x00\x00\x00\x0e\xdd\x00\x00\x00\x00\x00\x00\x00\xff\xff")
	if _, err := DecodeHeartbeat(ref); !errors.Is(err, ErrForeignMessage) {
		t.Errorf("reference heartbeat: err = %v, want ErrForeignMessage", err)
	}
	if _, err := (Heartbeat{Kind: KindHeartbeat, State: Active, Epoch: 1}).Encode(); err == nil {
		t.Error("Encode accepted an empty server ID")
	}
}

func TestThrottleDoubles(t *testing.T) {
	var th throttle
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var logged []time.Duration
	suppressed := 0
	for ms := 0; ms <= 200_000; ms += 50 {
		now := start.Add(time.Duration(ms) * time.Millisecond)
		if n, ok := th.allow(now); ok {
			logged = append(logged, now.Sub(start))
			suppressed += n
		}
	}
	want := []time.Duration{0, 1, 3, 7, 15, 31, 63, 123, 183}
	if len(logged) != len(want) {
		t.Fatalf("logged at %v", logged)
	}
	for i, w := range want {
		if logged[i] != w*time.Second {
			t.Fatalf("logged at %v, want seconds %v", logged, want)
		}
	}
	if suppressed == 0 {
		t.Fatal("no suppressed count")
	}
	// After a quiet period it starts over at 1s.
	later := start.Add(time.Hour)
	th.allow(later)
	if _, ok := th.allow(later.Add(time.Second)); !ok {
		t.Fatal("delay did not restart at 1s after a quiet period")
	}
}

func TestStateNames(t *testing.T) {
	for s := Standby; s <= Stopped; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s || s.String() != string(b) {
			t.Fatalf("%d: %q %v %v", s, b, back, err)
		}
	}
	if State(42).String() != "State(42)" {
		t.Fatal(State(42).String())
	}
	if Active.CanTransitionTo(Standby) || !Active.CanTransitionTo(Demoting) || Stopped.CanTransitionTo(Standby) {
		t.Fatal("transition table")
	}
}
