package filestore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/store"
)

func benchConfig() Config {
	cfg := DefaultConfig()
	cfg.Limits = store.Limits{}
	cfg.Logger = hclog.NewNullLogger()
	return cfg
}

func benchMsg(seq uint64, data []byte) *pb.MsgProto {
	return &pb.MsgProto{Sequence: seq, Subject: "foo", Data: data, Timestamp: time.Now().UnixNano()}
}

// BenchmarkStoreFlush stores 128-byte messages and flushes every batch
// messages, as the server does per publish batch.
func BenchmarkStoreFlush(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 128)
	for _, sync := range []bool{true, false} {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("sync=%v/batch=%d", sync, batch), func(b *testing.B) {
				cfg := benchConfig()
				cfg.DoSync = sync
				s, err := Open(b.TempDir(), cfg)
				must(b, err)
				defer s.Close()
				_, err = s.Recover(context.Background())
				must(b, err)
				must(b, s.Init(testInfo("bench")))
				ch, err := s.CreateChannel("foo")
				must(b, err)
				b.SetBytes(128)
				b.ReportAllocs()
				seq := uint64(0)
				for b.Loop() {
					seq++
					if err := ch.Msgs.Store(benchMsg(seq, data)); err != nil {
						b.Fatal(err)
					}
					if seq%uint64(batch) == 0 {
						if err := ch.Msgs.Flush(); err != nil {
							b.Fatal(err)
						}
					}
				}
				must(b, ch.Msgs.Flush())
			})
		}
	}
}

// fillStore writes channels×perChannel 128-byte messages without fsync.
func fillStore(b *testing.B, dir string, channels, perChannel int) {
	b.Helper()
	cfg := benchConfig()
	cfg.DoSync = false
	s, err := Open(dir, cfg)
	must(b, err)
	_, err = s.Recover(context.Background())
	must(b, err)
	must(b, s.Init(testInfo("bench")))
	data := bytes.Repeat([]byte("x"), 128)
	for c := range channels {
		ch, err := s.CreateChannel("chan." + strconv.Itoa(c))
		must(b, err)
		for i := 1; i <= perChannel; i++ {
			must(b, ch.Msgs.Store(benchMsg(uint64(i), data)))
			if i%10000 == 0 {
				must(b, ch.Msgs.Flush())
			}
		}
		must(b, ch.Msgs.Flush())
		must(b, ch.Msgs.Close())
	}
	must(b, s.Close())
}

// rssMB returns the resident set size of the process, in MB.
func rssMB(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return -1
}

func heapMB() float64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64()) / (1 << 20)
}

func benchRecover(b *testing.B, channels, perChannel int) {
	dir := b.TempDir()
	fillStore(b, dir, channels, perChannel)
	runtime.GC()
	debug.FreeOSMemory()
	b.ResetTimer()
	var rss, heap float64
	for b.Loop() {
		s, err := Open(dir, benchConfig())
		must(b, err)
		rs, err := s.Recover(context.Background())
		must(b, err)
		if len(rs.Channels) != channels {
			b.Fatalf("recovered %d channels", len(rs.Channels))
		}
		b.StopTimer()
		n, _, _ := rs.Channels["chan.0"].Channel.Msgs.State()
		if n != perChannel {
			b.Fatalf("recovered %d messages", n)
		}
		runtime.GC()
		rss, heap = rssMB(b), heapMB()
		must(b, s.Close())
		b.StartTimer()
	}
	b.ReportMetric(float64(channels*perChannel)/(b.Elapsed().Seconds()/float64(b.N)), "msgs/s")
	b.ReportMetric(rss, "rss-MB")
	b.ReportMetric(heap, "heap-MB")
}

// BenchmarkRecover measures recovery time and the memory held afterwards:
// 1,000,000 × 128 B messages in one channel, and 1,000 channels × 1,000.
func BenchmarkRecover(b *testing.B) {
	b.Run("1ch-1M", func(b *testing.B) { benchRecover(b, 1, 1_000_000) })
	b.Run("1000ch-1000", func(b *testing.B) { benchRecover(b, 1000, 1000) })
}

// BenchmarkLookup reads a recovered backlog of 100,000 × 128 B messages,
// in order (as a new subscriber catching up does) and at random.
func BenchmarkLookup(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	fillStore(b, dir, 1, n)
	for _, mode := range []string{"sequential", "random"} {
		b.Run(mode, func(b *testing.B) {
			s, err := Open(dir, benchConfig())
			must(b, err)
			defer s.Close()
			rs, err := s.Recover(context.Background())
			must(b, err)
			ms := rs.Channels["chan.0"].Channel.Msgs
			seq, x := uint64(0), uint64(12345)
			for b.Loop() {
				if mode == "sequential" {
					seq = seq%n + 1
				} else {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
					seq = x%n + 1
				}
				m, err := ms.Lookup(seq)
				if err != nil || m == nil {
					b.Fatalf("Lookup(%d) = %v, %v", seq, m, err)
				}
			}
		})
	}
}
