package memstore_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/store"
	"github.com/stanft/stanft/store/storetest"
)

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Output: t.Output(), Level: hclog.Debug})
}

func newStore(t testing.TB, l store.Limits) *memstore.Store {
	t.Helper()
	s, err := memstore.New(memstore.Config{Limits: l, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("memstore.New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, l store.Limits) store.Store {
		return newStore(t, l)
	}, storetest.Caps{})
}

func TestNewValidates(t *testing.T) {
	l := store.DefaultLimits()
	l.MaxMsgs = -1
	if _, err := memstore.New(memstore.Config{Limits: l}); err == nil || !strings.Contains(err.Error(), "max messages limit cannot be negative") {
		t.Fatalf("New with negative MaxMsgs: err = %v", err)
	}
	s, err := memstore.New(memstore.DefaultConfig())
	if err != nil {
		t.Fatalf("New(DefaultConfig()): %v", err)
	}
	defer s.Close()
	if got := s.Limits(); got.MaxChannels != store.DefaultMaxChannels || got.MaxMsgs != store.DefaultMaxMsgs {
		t.Fatalf("default limits = %+v", got)
	}
	if rs, err := s.Recover(t.Context()); rs != nil || err != nil {
		t.Fatalf("Recover = %v, %v; want nil, nil", rs, err)
	}
}

func TestLimitWarningOncePerChannel(t *testing.T) {
	var buf testenv.SyncBuffer
	l := store.Limits{ChannelLimits: store.ChannelLimits{MaxMsgs: 2}}
	s, err := memstore.New(memstore.Config{Limits: l, Logger: hclog.New(&hclog.LoggerOptions{Output: &buf})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"a", "b"} {
		c, err := s.CreateChannel(name)
		if err != nil {
			t.Fatal(err)
		}
		for i := uint64(1); i <= 10; i++ {
			if err := c.Msgs.Store(&pb.MsgProto{Sequence: i, Subject: name, Data: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := buf.String()
	for _, name := range []string{"a", "b"} {
		want := `Reached limits for store "` + name + `" (msgs=2/2 bytes=`
		if n := strings.Count(out, want); n != 1 {
			t.Errorf("warning for %q logged %d times, want once; log:\n%s", name, n, out)
		}
	}
	if !strings.Contains(out, "dropping old messages to make room for new ones") {
		t.Errorf("warning text missing; log:\n%s", out)
	}
}

// TestRingWrapsWithGaps stores far more messages than the ring holds, with
// occasional gaps, and checks every lookup against a model.
func TestRingWrapsWithGaps(t *testing.T) {
	s := newStore(t, store.Limits{ChannelLimits: store.ChannelLimits{MaxMsgs: 100}})
	defer s.Close()
	c, err := s.CreateChannel("foo")
	if err != nil {
		t.Fatal(err)
	}
	var stored []uint64
	seq := uint64(0)
	for i := range 1000 {
		seq++
		if i%37 == 0 {
			seq += 3 // gap
		}
		if err := c.Msgs.Store(&pb.MsgProto{Sequence: seq, Timestamp: int64(seq) * 10}); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, seq)
		if len(stored) > 100 {
			stored = stored[1:]
		}
		if i%50 != 0 {
			continue
		}
		first, last, _ := c.Msgs.FirstAndLastSequence()
		if first != stored[0] || last != stored[len(stored)-1] {
			t.Fatalf("first, last = %d, %d; want %d, %d", first, last, stored[0], stored[len(stored)-1])
		}
		have := map[uint64]bool{}
		for _, q := range stored {
			have[q] = true
		}
		for q := stored[0] - 1; q <= last+1; q++ {
			m, err := c.Msgs.Lookup(q)
			if err != nil {
				t.Fatal(err)
			}
			if (m != nil) != have[q] || (m != nil && m.Sequence != q) {
				t.Fatalf("Lookup(%d) = %v, want present=%v", q, m, have[q])
			}
		}
		if got, _ := c.Msgs.GetSequenceFromTimestamp(int64(stored[len(stored)/2])*10 - 1); got != stored[len(stored)/2] {
			t.Fatalf("GetSequenceFromTimestamp = %d, want %d", got, stored[len(stored)/2])
		}
	}
}

// TestCloseStopsExpiry: the bubble fails if the expiry goroutine of a
// channel outlives Close or DeleteChannel.
func TestCloseStopsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, store.Limits{ChannelLimits: store.ChannelLimits{MaxAge: time.Second}})
		a, err := s.CreateChannel("a")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateChannel("b"); err != nil {
			t.Fatal(err)
		}
		if err := a.Msgs.Store(&pb.MsgProto{Sequence: 1, Timestamp: time.Now().UnixNano()}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteChannel("b"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := a.Msgs.Store(&pb.MsgProto{Sequence: 2}); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("Store after Close: %v", err)
		}
	})
}

func TestStoreDoesNotAllocate(t *testing.T) {
	s := newStore(t, store.Limits{ChannelLimits: store.ChannelLimits{MaxMsgs: 1000}})
	defer s.Close()
	c, err := s.CreateChannel("foo")
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]pb.MsgProto, 5000)
	for i := range msgs {
		msgs[i] = pb.MsgProto{Sequence: uint64(i + 1), Subject: "foo", Data: make([]byte, 128)}
	}
	i := 0
	// Warm up the ring to its steady-state size.
	for ; i < 2000; i++ {
		_ = c.Msgs.Store(&msgs[i])
	}
	allocs := testing.AllocsPerRun(1000, func() {
		_ = c.Msgs.Store(&msgs[i])
		i++
	})
	if allocs > 0 {
		t.Fatalf("Store allocates %.1f times per message in steady state", allocs)
	}
}

// BenchmarkStoreAndFlush128B measures the publish hot path: one new 128 B
// message stored and flushed per op. "default-limits" keeps every message
// (the ring grows); "ring-full" runs at MaxMsgs=10000, dropping one old
// message per op (steady state).
func BenchmarkStoreAndFlush128B(b *testing.B) {
	full := store.DefaultLimits()
	full.MaxMsgs = 10000
	for _, bc := range []struct {
		name   string
		limits store.Limits
	}{
		{"default-limits", store.DefaultLimits()},
		{"ring-full", full},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newStore(b, bc.limits)
			defer s.Close()
			c, err := s.CreateChannel("bench")
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, 128)
			b.ReportAllocs()
			b.SetBytes(128)
			seq := uint64(0)
			for b.Loop() {
				seq++
				m := &pb.MsgProto{Sequence: seq, Subject: "bench", Data: data, Timestamp: int64(seq)}
				if err := c.Msgs.Store(m); err != nil {
					b.Fatal(err)
				}
				if err := c.Msgs.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
