package filestore

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stanft/stanft/store"
)

// TestConcurrentReadersDuringWrites: lookups run while one writer stores,
// flushes, rolls slices and drops old messages; every message a reader gets
// is the right one.
func TestConcurrentReadersDuringWrites(t *testing.T) {
	_, _, ch := faultStore(t, t.TempDir(), func(c *Config) {
		c.SliceMaxMsgs = 100
		c.DoSync = false // fsyncs are not the point here
		c.BufferSize = 2048
		c.ReadBufferSize = 4096
		c.Limits = store.Limits{ChannelLimits: store.ChannelLimits{MaxMsgs: 1000}}
	})
	const total = 3000
	var flushed atomic.Uint64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				last := flushed.Load()
				if last == 0 {
					continue
				}
				seq := 1 + rng.Uint64N(last)
				m, err := ch.Msgs.Lookup(seq)
				if err != nil {
					t.Errorf("Lookup(%d): %v", seq, err)
					return
				}
				if m != nil && (m.Sequence != seq || !bytes.Equal(m.Data, testMsg("foo", seq).Data)) {
					t.Errorf("Lookup(%d) = seq %d", seq, m.Sequence)
					return
				}
				if _, err := ch.Msgs.GetSequenceFromTimestamp(int64(rng.Uint64N(1 << 62))); err != nil {
					t.Errorf("GetSequenceFromTimestamp: %v", err)
					return
				}
			}
		}()
	}
	for seq := uint64(1); seq <= total; seq++ {
		must(t, ch.Msgs.Store(testMsg("foo", seq)))
		if seq%17 == 0 {
			must(t, ch.Msgs.Flush())
			flushed.Store(seq)
		}
	}
	must(t, ch.Msgs.Flush())
	close(stop)
	wg.Wait()
	checkMsgs(t, ch.Msgs, total-999, total)
}
