package main

import (
	"syscall"
	"time"
)

// cpuNow returns the user+system CPU time this process and the server
// processes of -layout process have used, so that the delta over a run is
// its whole CPU cost (NATS server, stanft server, clients).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) + childrenCPU()
}

// measured is one run: its rate and its CPU cost per message.
type measured struct {
	rate   float64       // messages per second (wall clock)
	cpuMsg time.Duration // CPU per message
}

// measure runs f (which handles n messages and returns a rate) and records
// the CPU it cost. On a shared machine the wall-clock rate swings with other
// load; CPU per message barely does, so ratios of CPU cost are the steadier
// comparison (they ignore time spent waiting for fsync).
func measure(n int, f func() (float64, error)) (measured, error) {
	c0 := cpuNow()
	rate, err := f()
	c1 := cpuNow()
	return measured{rate: rate, cpuMsg: (c1 - c0) / time.Duration(max(n, 1))}, err
}
