// Command bench measures stanft against core NATS in one run, each server
// binary in its own process with core NATS measured on its embedded NATS
// server (or everything in one process with -layout inprocess), and prints
// every figure with its ratio to the core NATS publish-plus-reply rate:
//
//	go run ./bench                 # everything (a few minutes on 2 cores)
//	go run ./bench -only memory    # core NATS + MEMORY
//	go run ./bench -only file      # core NATS + MEMORY + FILE fsync on/off
//	go run ./bench -only recovery  # recovery time and RSS (child processes)
//	go run ./bench -only scrape    # publish with and without a /metrics scraper
//
// See bench/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"time"
)

func main() {
	os.Exit(run())
}

type options struct {
	only        map[string]bool
	n           int
	size        int
	runs        int
	latN        int
	recoverBig  int
	recoverMany string
	scrapeChans int
	dir         string
	layout      string
	reference   string
}

func run() int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	only := fs.String("only", "memory,file,recovery,scrape", "comma-separated parts: memory, file, recovery, scrape")
	n := fs.Int("n", 100000, "messages per throughput run")
	size := fs.Int("size", 128, "payload bytes")
	runs := fs.Int("runs", 3, "throughput runs per figure (the median is printed)")
	latN := fs.Int("lat", 5000, "sync publishes for the latency percentiles")
	recBig := fs.Int("recover-msgs", 1000000, "messages in the one-channel recovery dataset")
	recMany := fs.String("recover-channels", "1000x1000", "channels x messages of the many-channel recovery dataset")
	scrapeChans := fs.Int("scrape-channels", 100, "channels (each with a durable) that the scraped server holds")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	dir := fs.String("dir", "", "where FILE datastores go (default: a temporary directory, removed at the end)")
	layout := fs.String("layout", "process", "throughput layout: process (each server binary in its own process, as deployed) or inprocess (everything in this one process)")
	reference := fs.String("reference", "", "a nats-streaming-server binary to measure beside stanft (MEMORY and FILE fsync on; process layout)")
	child := fs.String("recovery-child", "", "internal: recover this datastore and report (child process)")
	nullURL := fs.String("null-server", "", "internal: serve the null STAN responder on this NATS URL (child process)")
	nullCID := fs.String("null-cid", "bench-null", "internal: the null responder's cluster ID")
	childMode := fs.String("recovery-mode", "store", "internal: store or server")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if *child != "" {
		return runRecoveryChild(*child, *childMode)
	}
	if *nullURL != "" {
		return runNullChild(*nullURL, *nullCID)
	}
	if *layout != "inprocess" && *layout != "process" {
		fmt.Fprintf(os.Stderr, "bench: -layout %q: want inprocess or process\n", *layout)
		return 2
	}
	if *reference != "" && *layout != "process" {
		fmt.Fprintln(os.Stderr, "bench: -reference needs -layout process")
		return 2
	}
	o := options{only: map[string]bool{}, n: *n, size: *size, runs: max(*runs, 1), latN: *latN,
		recoverBig: *recBig, recoverMany: *recMany, scrapeChans: *scrapeChans, dir: *dir, layout: *layout,
		reference: *reference}
	for _, p := range strings.Split(*only, ",") {
		o.only[strings.TrimSpace(p)] = true
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "stanft-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer os.RemoveAll(d)
		o.dir = d
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if err := benchAll(o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func benchAll(o options) error {
	ns, err := startNATS()
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	url := ns.ClientURL()
	fmt.Printf("stanft bench: %d x %d B, median of %d runs, embedded NATS %s\n", o.n, o.size, o.runs, url)

	kinds := []storeKind{}
	if o.only["memory"] || o.only["file"] {
		kinds = append(kinds, kindMemory)
	}
	if o.only["file"] {
		kinds = append(kinds, kindFileSync, kindFileNo)
	}
	if o.reference != "" && len(kinds) > 0 {
		refMem, refFile := kindMemory, kindFileSync
		refMem.name, refMem.bin = "reference MEMORY", o.reference
		refFile.name, refFile.bin = "reference FILE fsync on", o.reference
		kinds = append(kinds, refMem)
		if o.only["file"] {
			kinds = append(kinds, refFile)
		}
	}
	if len(kinds) > 0 {
		if err := throughput(o, url, kinds); err != nil {
			return err
		}
	}

	if o.only["recovery"] {
		if err := benchRecovery(o); err != nil {
			return err
		}
	}
	if o.only["scrape"] {
		// Five times the messages, so each run lasts seconds and sees tens
		// of scrapes.
		res, err := scrapeBench(url, 5*o.n, o.size, o.runs, o.scrapeChans)
		if err != nil {
			return err
		}
		off, on := median(res.without), median(res.with)
		cOff, cOn := medianDur(res.cpuWithout), medianDur(res.cpuWith)
		fmt.Printf("%-44s %10.0f msgs/s  CPU %v/msg (runs %s)\n", "MEMORY async publish, no scraper", off, cOff, list(res.without))
		fmt.Printf("%-44s %10.0f msgs/s  CPU %v/msg (runs %s)\n", "MEMORY async publish, scraper at 10/s", on, cOn, list(res.with))
		perScrape := time.Duration(0)
		if res.scrapes > 0 {
			perScrape = (cOn - cOff) * time.Duration(5*o.n*res.runs) / time.Duration(res.scrapes)
		}
		fmt.Printf("%-44s %+.1f%% throughput, %+.1f%% CPU per message; %d scrapes (%d failed), p50 %v, ~%v CPU each\n",
			"  scraper effect", 100*(on-off)/off, 100*float64(cOn-cOff)/float64(cOff), res.scrapes, res.scrapeErrs,
			res.scrapeP50.Round(time.Microsecond), perScrape.Round(10*time.Microsecond))
		for _, path := range []string{"/metrics", "/streaming/channelsz?subs=1"} {
			fmt.Printf("  %-42s %v CPU per request (idle server, %d channels with a durable)\n", path, res.perPath[path].Round(time.Microsecond), o.scrapeChans)
		}
	}
	return nil
}

// benchThroughput starts one server per store kind, then runs the
// measurements round-robin (core NATS, then each store) -runs times, so that
// each ratio compares figures taken seconds apart on a machine whose load
// varies; it prints medians of the rates and medians of the per-round ratios.
// throughput starts the servers of the chosen layout (see -layout) and
// runs benchThroughput against them. The stanft server of kinds[i] serves
// cluster ID bench-<i>; the null STAN responder serves bench-null.
func throughput(o options, url string, kinds []storeKind) error {
	if o.layout == "process" {
		bin, err := buildStanft(o.dir)
		if err != nil {
			return err
		}
		urls, procs, err := startStanftProcs(bin, o.dir, kinds)
		if err != nil {
			return err
		}
		defer closeAll(procs)
		null, err := startNullProc(urls[0], "bench-null")
		if err != nil {
			return err
		}
		defer null.close()
		fmt.Println("layout: process (each stanft binary in its own process with its own embedded NATS, core NATS measured on each; the null responder in its own process on the first one's NATS; CPU sums all processes)")
		return benchThroughput(o, urls, kinds)
	}
	for i, k := range kinds {
		s, err := startServer(k, url, fmt.Sprintf("bench-%d", i), filepath.Join(o.dir, fmt.Sprintf("store-%d", i)), nil)
		if err != nil {
			return err
		}
		defer s.close()
	}
	null, err := startNullServer(url, "bench-null")
	if err != nil {
		return err
	}
	defer null.close()
	fmt.Println("layout: in-process (NATS, servers and clients in this one process)")
	urls := make([]string, len(kinds))
	for i := range urls {
		urls[i] = url
	}
	return benchThroughput(o, urls, kinds)
}

// benchThroughput measures core NATS, the null STAN responder and every
// store kind round-robin; kinds[i] is served on urls[i], the null responder
// on urls[0]. Each store's ratios are to core NATS measured on its own URL
// in the same round.
func benchThroughput(o options, urls []string, kinds []storeKind) error {
	url := urls[0]
	for i, k := range kinds {
		if _, err := asyncPublish(urls[i], fmt.Sprintf("bench-%d", i), "warmup", o.n/5, o.size); err != nil {
			return fmt.Errorf("%s warm-up: %w", k.name, err)
		}
		if _, err := corePubReply(urls[i], o.n/5, o.size); err != nil { // warm-up
			return err
		}
	}
	if _, err := asyncPublish(url, "bench-null", "warmup", o.n/5, o.size); err != nil {
		return fmt.Errorf("null server warm-up: %w", err)
	}
	var nullAsync, nullE2E []float64
	var nullAsyncCPU, nullE2ECPU []time.Duration
	var core []float64
	var coreCPU []time.Duration
	async := make([][]float64, len(kinds))
	e2e := make([][]float64, len(kinds))
	asyncRatio := make([][]float64, len(kinds))
	e2eRatio := make([][]float64, len(kinds))
	asyncCPU := make([][]time.Duration, len(kinds))
	e2eCPU := make([][]time.Duration, len(kinds))
	var fileOverMem []float64
	for r := 0; r < o.runs; r++ {
		c, err := measure(o.n, func() (float64, error) { return corePubReply(url, o.n, o.size) })
		if err != nil {
			return err
		}
		core = append(core, c.rate)
		coreCPU = append(coreCPU, c.cpuMsg)
		na, err := measure(o.n, func() (float64, error) {
			return asyncPublish(url, "bench-null", fmt.Sprintf("async.%d", r), o.n, o.size)
		})
		if err != nil {
			return fmt.Errorf("null server async: %w", err)
		}
		ne, err := measure(o.n, func() (float64, error) {
			return pubSub(url, "bench-null", fmt.Sprintf("e2e.%d", r), o.n, o.size)
		})
		if err != nil {
			return fmt.Errorf("null server pub+sub: %w", err)
		}
		nullAsync, nullE2E = append(nullAsync, na.rate/c.rate), append(nullE2E, ne.rate/c.rate)
		nullAsyncCPU, nullE2ECPU = append(nullAsyncCPU, na.cpuMsg), append(nullE2ECPU, ne.cpuMsg)
		for i, k := range kinds {
			kc := c
			if urls[i] != url {
				if kc, err = measure(o.n, func() (float64, error) { return corePubReply(urls[i], o.n, o.size) }); err != nil {
					return err
				}
			}
			a, err := measure(o.n, func() (float64, error) {
				return asyncPublish(urls[i], fmt.Sprintf("bench-%d", i), fmt.Sprintf("async.%d", r), o.n, o.size)
			})
			if err != nil {
				return fmt.Errorf("%s async: %w", k.name, err)
			}
			e, err := measure(o.n, func() (float64, error) {
				return pubSub(urls[i], fmt.Sprintf("bench-%d", i), fmt.Sprintf("e2e.%d", r), o.n, o.size)
			})
			if err != nil {
				return fmt.Errorf("%s pub+sub: %w", k.name, err)
			}
			async[i] = append(async[i], a.rate)
			e2e[i] = append(e2e[i], e.rate)
			asyncRatio[i] = append(asyncRatio[i], a.rate/kc.rate)
			e2eRatio[i] = append(e2eRatio[i], e.rate/kc.rate)
			asyncCPU[i] = append(asyncCPU[i], a.cpuMsg)
			e2eCPU[i] = append(e2eCPU[i], e.cpuMsg)
		}
		if len(kinds) > 1 && kinds[1] == kindFileSync {
			fileOverMem = append(fileOverMem, async[1][r]/async[0][r])
		}
	}
	cc := medianDur(coreCPU)
	fmt.Printf("%-44s %10.0f msgs/s  CPU %v/msg  (runs %s)\n", "core NATS publish+reply (pipelined, 16384)", median(core), cc, list(core))
	nac, nec := medianDur(nullAsyncCPU), medianDur(nullE2ECPU)
	fmt.Printf("%-44s %28s %5.1f%% of core NATS (per-round %s); CPU %v/msg, core/null CPU %5.1f%%\n",
		"null STAN responder async publish (ceiling)", "", 100*median(nullAsync), pct(nullAsync), nac, 100*float64(cc)/float64(nac))
	fmt.Printf("%-44s %28s %5.1f%% of core NATS (per-round %s); CPU %v/msg, core/null CPU %5.1f%%\n",
		"null STAN responder 1 pub + 1 sub (ceiling)", "", 100*median(nullE2E), pct(nullE2E), nec, 100*float64(cc)/float64(nec))
	for i, k := range kinds {
		ac, ec := medianDur(asyncCPU[i]), medianDur(e2eCPU[i])
		fmt.Printf("%-44s %10.0f msgs/s  %5.1f%% of core NATS (per-round %s); CPU %v/msg, core/server CPU %5.1f%%\n",
			k.name+" async publish", median(async[i]), 100*median(asyncRatio[i]), pct(asyncRatio[i]), ac, 100*float64(cc)/float64(ac))
		fmt.Printf("%-44s %10.0f msgs/s  %5.1f%% of core NATS (per-round %s); CPU %v/msg, core/server CPU %5.1f%%\n",
			k.name+" 1 pub + 1 sub end to end", median(e2e[i]), 100*median(e2eRatio[i]), pct(e2eRatio[i]), ec, 100*float64(cc)/float64(ec))
	}
	for i, k := range kinds {
		latN := o.latN
		if k.doSync {
			latN = min(latN, 2000)
		}
		p50, p99, err := syncLatency(urls[i], fmt.Sprintf("bench-%d", i), "sync", latN, o.size)
		if err != nil {
			return fmt.Errorf("%s sync: %w", k.name, err)
		}
		fmt.Printf("%-44s p50 %v  p99 %v  (%d publishes)\n", k.name+" sync publish latency", p50.Round(time.Microsecond), p99.Round(time.Microsecond), latN)
	}
	for j, ref := range kinds {
		if ref.bin == "" {
			continue
		}
		for i, k := range kinds {
			if k.bin == "" && k.file == ref.file && k.doSync == ref.doSync {
				over := make([]float64, len(async[i]))
				for r := range over {
					over[r] = async[i][r] / async[j][r]
				}
				fmt.Printf("%-44s %5.2fx the reference's rate (per-round %s)\n", k.name+" async publish", median(over), times(over))
			}
		}
	}
	if len(fileOverMem) > 0 {
		fmt.Printf("%-44s %5.1f%% of MEMORY (per-round %s), %5.1f%% of core NATS\n", "FILE fsync on async publish",
			100*median(fileOverMem), pct(fileOverMem), 100*median(asyncRatio[1]))
	}
	return nil
}

func medianDur(v []time.Duration) time.Duration {
	s := append([]time.Duration(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2].Round(10 * time.Nanosecond)
}

func list(v []float64) string  { return joinf(v, "%.0f", 1) }
func pct(v []float64) string   { return joinf(v, "%.0f%%", 100) }
func times(v []float64) string { return joinf(v, "%.2fx", 1) }

// joinf formats each of v, times scale, with format, space-separated.
func joinf(v []float64, format string, scale float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf(format, scale*x)
	}
	return strings.Join(parts, " ")
}

func benchRecovery(o options) error {
	var chans, per int
	if _, err := fmt.Sscanf(o.recoverMany, "%dx%d", &chans, &per); err != nil {
		return fmt.Errorf("bench: -recover-channels %q: want CxM", o.recoverMany)
	}
	for i, ds := range []dataset{
		{name: fmt.Sprintf("1 channel x %d", o.recoverBig), channels: 1, perChan: o.recoverBig},
		{name: fmt.Sprintf("%d channels x %d", chans, per), channels: chans, perChan: per},
	} {
		dir := filepath.Join(o.dir, fmt.Sprintf("recovery-%d", i))
		t0 := time.Now()
		if err := populate(dir, ds, o.size); err != nil {
			return err
		}
		fmt.Printf("recovery %s x %d B (written in %v)\n", ds.name, o.size, time.Since(t0).Round(time.Millisecond))
		for _, mode := range []string{"store", "server"} {
			// Best of two: the first run may pay for a cold page cache.
			var res recoveryResult
			for try := 0; try < 2; try++ {
				r, err := recoverInChild(dir, mode)
				if err != nil {
					return err
				}
				if try == 0 || r.Elapsed < res.Elapsed {
					res = r
				}
			}
			what := "filestore Open+Recover"
			if mode == "server" {
				what = "server Activate (recovers; + embedded NATS)"
			}
			counts := ""
			if mode == "store" {
				counts = fmt.Sprintf(", %d channels, %d msgs", res.Channels, res.Msgs)
			}
			fmt.Printf("  %-44s %8v  RSS %d MB (peak %d MB)%s\n", what, res.Elapsed.Round(time.Millisecond),
				res.RSSKB/1024, res.HWMKB/1024, counts)
		}
		_ = os.RemoveAll(dir)
	}
	return nil
}
