package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/store"
)

func TestMaxSubscriptions(t *testing.T) {
	_, url := startWithLimits(t, func(l *store.Limits) { l.MaxSubscriptions = 2 })
	sc := connect(t, url, "c")
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.DurableName("d")); err != nil {
		t.Fatal(err)
	}
	sub, err := sc.Subscribe("foo", func(*stan.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}); err == nil || err.Error() != "too many subscriptions per channel" {
		t.Fatalf("third: %v", err)
	}
	_ = sub.Unsubscribe()
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}); err != nil {
		t.Fatalf("after unsubscribe: %v", err)
	}
}

func TestMaxMsgsSkipsRemoved(t *testing.T) {
	s, url := startWithLimits(t, func(l *store.Limits) { l.MaxMsgs = 3 })
	sc := connect(t, url, "c")
	publishN(t, sc, "foo", 10)
	cz, _ := s.Channel("foo", false)
	if cz.Msgs != 3 || cz.FirstSeq != 8 || cz.LastSeq != 10 {
		t.Fatalf("channel: %+v", cz)
	}
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h, stan.StartAtSequence(2)); err != nil {
		t.Fatal(err)
	}
	for want := uint64(8); want <= 10; want++ {
		if m := recv(t, ch, 2*time.Second); m.Sequence != want {
			t.Fatalf("seq %d want %d", m.Sequence, want)
		}
	}
}

func TestChannelInactivity(t *testing.T) {
	s, url := startWithLimits(t, func(l *store.Limits) {
		l.PerChannel = map[string]*store.ChannelLimits{"idle.>": {MaxInactivity: 200 * time.Millisecond}}
	})
	sc := connect(t, url, "c")
	publishN(t, sc, "idle.a", 3)
	publishN(t, sc, "busy", 1)
	sub, err := sc.Subscribe("idle.b", func(*stan.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	// An offline durable does not keep a channel alive.
	dur, err := sc.Subscribe("idle.c", func(*stan.Msg) {}, stan.DurableName("d"))
	if err != nil {
		t.Fatal(err)
	}
	_ = dur.Close()
	waitFor(t, 3*time.Second, "idle channels deleted", func() bool {
		names := strings.Join(s.ChannelNames(), ",")
		return names == "busy,idle.b"
	})
	_ = sub.Unsubscribe()
	waitFor(t, 3*time.Second, "idle.b deleted", func() bool {
		return strings.Join(s.ChannelNames(), ",") == "busy"
	})
	// A recreated channel restarts at sequence 1.
	publishN(t, sc, "idle.a", 1)
	if cz, _ := s.Channel("idle.a", false); cz.FirstSeq != 1 || cz.LastSeq != 1 {
		t.Fatalf("recreated: %+v", cz)
	}
}

// Once every message expired (first = last+1), subscriptions still get
// the next message.
func TestAllMessagesExpired(t *testing.T) {
	s, url := startWithLimits(t, func(l *store.Limits) { l.MaxAge = 100 * time.Millisecond })
	sc := connect(t, url, "c")
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h, stan.SetManualAckMode(), stan.AckWait(time.Second)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 3)
	for i := 0; i < 3; i++ {
		recv(t, ch, 2*time.Second)
	}
	waitFor(t, 3*time.Second, "expiry", func() bool {
		cz, _ := s.Channel("foo", false)
		return cz.Msgs == 0
	})
	// Pending messages that expired are treated as acked, not redelivered.
	noMsg(t, ch, 1200*time.Millisecond)
	ch2, h2 := msgChan(10)
	if _, err := sc.Subscribe("foo", h2, stan.DeliverAllAvailable()); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 1)
	if m := recv(t, ch, 2*time.Second); m.Sequence != 4 {
		t.Fatalf("first sub: %d", m.Sequence)
	}
	if m := recv(t, ch2, 2*time.Second); m.Sequence != 4 {
		t.Fatalf("second sub: %d", m.Sequence)
	}
}
