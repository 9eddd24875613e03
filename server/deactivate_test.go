package server_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/stan.go"
)

// Deactivate while publishes are in flight: every acknowledged message is
// in the store; the others are not acknowledged (they time out).
func TestDeactivateDrainsPublishes(t *testing.T) {
	dir, url, cfg := fileEnv(t)
	st := openFileStore(t, dir)
	s := activate(t, cfg, st)
	sc := connect(t, url, "pub", stan.PubAckWait(time.Second))

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	const n = 3000
	for i := 0; i < n; i++ {
		if i == n/3 {
			go func() { _ = s.Deactivate(context.Background()) }()
		}
		wg.Add(1)
		data := strconv.Itoa(i)
		_, err := sc.PublishAsync("foo", []byte(data), func(_ string, err error) {
			defer wg.Done()
			if err == nil {
				mu.Lock()
				acked[data] = true
				mu.Unlock()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := s.Deactivate(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	_ = s.Close()
	if len(acked) == 0 || len(acked) == n {
		t.Logf("acked %d of %d", len(acked), n)
	}

	st2 := openFileStore(t, dir)
	defer st2.Close()
	rs, err := st2.Recover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	if rs != nil && rs.Channels["foo"] != nil {
		msgs := rs.Channels["foo"].Channel.Msgs
		first, last, _ := msgs.FirstAndLastSequence()
		for seq := first; seq <= last && seq > 0; seq++ {
			m, err := msgs.Lookup(seq)
			if err != nil || m == nil {
				t.Fatalf("lookup %d: %v", seq, err)
			}
			stored[string(m.Data)] = true
		}
	}
	for d := range acked {
		if !stored[d] {
			t.Fatalf("acked message %s not stored (acked %d, stored %d)", d, len(acked), len(stored))
		}
	}
	t.Logf("acked %d, stored %d of %d", len(acked), len(stored), n)
}
