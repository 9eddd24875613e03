package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/monitor"
)

// scrapeResult compares publish rates without and with a scraper.
type scrapeResult struct {
	without, with       []float64
	cpuWithout, cpuWith []time.Duration // CPU per message
	scrapes             int
	scrapeErrs          int
	scrapeP50           time.Duration
	runs                int
	perPath             map[string]time.Duration // CPU per request, idle server
}

// scrapeBench runs a MEMORY server with the monitor handler on a loopback
// HTTP server, prepares `channels` channels each with a durable subscription,
// then alternates async-publish runs without and with a scraper polling
// /metrics and /streaming/channelsz?subs=1 ten times a second.
func scrapeBench(natsURL string, n, size, runs, channels int) (scrapeResult, error) {
	var res scrapeResult
	mon := monitor.NewMetrics()
	// Every run publishes to one channel capped at n messages, so memory
	// stays bounded and later runs are not slowed by earlier ones.
	k := kindMemory
	k.maxMsgs = n
	s, err := startServer(k, natsURL, "bench-scrape", "", mon)
	if err != nil {
		return res, err
	}
	defer s.close()
	src, ok := any(s.srv).(monitor.Source)
	if !ok {
		return res, fmt.Errorf("bench: *server.Server does not implement monitor.Source yet")
	}
	cfg := monitor.DefaultConfig()
	cfg.Source = src
	cfg.Metrics = mon
	m, err := monitor.New(cfg)
	if err != nil {
		return res, fmt.Errorf("bench: monitor: %w", err)
	}
	hs := httptest.NewServer(m.Handler())
	defer hs.Close()

	// Give the scrapes something to walk: channels with a durable each.
	sc, err := connect(natsURL, s.cid)
	if err != nil {
		return res, err
	}
	defer sc.Close()
	for i := 0; i < channels; i++ {
		ch := fmt.Sprintf("scrape.%03d", i)
		if err := sc.Publish(ch, make([]byte, size)); err != nil {
			return res, fmt.Errorf("bench: scrape prepare: %w", err)
		}
		if _, err := sc.Subscribe(ch, func(*stan.Msg) {}, stan.DurableName(fmt.Sprintf("d%03d", i))); err != nil {
			return res, fmt.Errorf("bench: scrape prepare sub: %w", err)
		}
	}

	// Warm up (first connections, allocations) before measuring.
	if _, err := asyncPublish(natsURL, s.cid, "scrape.pub", n/5, size); err != nil {
		return res, err
	}
	var lat []time.Duration
	var mu sync.Mutex
	scraped := func() (float64, error) {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			tk := time.NewTicker(100 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
				}
				for _, path := range []string{"/metrics", "/streaming/channelsz?subs=1"} {
					t0 := time.Now()
					ok := get(client, hs.URL+path)
					d := time.Since(t0)
					mu.Lock()
					res.scrapes++
					if !ok {
						res.scrapeErrs++
					}
					lat = append(lat, d)
					mu.Unlock()
				}
			}
		}()
		rate, err := asyncPublish(natsURL, s.cid, "scrape.pub", n, size)
		cancel()
		wg.Wait()
		return rate, err
	}
	plain := func() (float64, error) { return asyncPublish(natsURL, s.cid, "scrape.pub", n, size) }
	// Alternate which goes first so that drift favours neither.
	for r := 0; r < runs; r++ {
		first, second := plain, scraped
		if r%2 == 1 {
			first, second = scraped, plain
		}
		a, err := measure(n, first)
		if err != nil {
			return res, err
		}
		b, err := measure(n, second)
		if err != nil {
			return res, err
		}
		if r%2 == 1 {
			a, b = b, a
		}
		res.without = append(res.without, a.rate)
		res.with = append(res.with, b.rate)
		res.cpuWithout = append(res.cpuWithout, a.cpuMsg)
		res.cpuWith = append(res.cpuWith, b.cpuMsg)
		res.runs++
	}
	// CPU cost of each endpoint alone, with no publishing going on.
	res.perPath = map[string]time.Duration{}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/metrics", "/streaming/channelsz?subs=1"} {
		const reqs = 50
		m, _ := measure(reqs, func() (float64, error) {
			for i := 0; i < reqs; i++ {
				get(client, hs.URL+path)
			}
			return 0, nil
		})
		res.perPath[path] = m.cpuMsg
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.scrapeP50 = percentile(lat, 0.5)
	return res, nil
}

func get(c *http.Client, url string) bool {
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
