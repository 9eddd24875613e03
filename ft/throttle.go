package ft

import "time"

// throttle rate-limits a repeated log message: the first occurrence is
// logged, then at most one per delay, the delay doubling from 1s to 60s.
// After a quiet period as long as the current delay, it starts over.
// Not safe for concurrent use (the elector uses it from its loop only).
type throttle struct {
	next       time.Time
	delay      time.Duration
	suppressed int
}

const (
	throttleMin = time.Second
	throttleMax = time.Minute
)

// allow reports whether to log now, and how many occurrences were
// suppressed since the last logged one.
func (t *throttle) allow(now time.Time) (suppressed int, ok bool) {
	if now.Before(t.next) {
		t.suppressed++
		return 0, false
	}
	if t.delay == 0 || now.Sub(t.next) >= t.delay {
		t.delay = throttleMin
	} else {
		t.delay = min(2*t.delay, throttleMax)
	}
	t.next = now.Add(t.delay)
	n := t.suppressed
	t.suppressed = 0
	return n, true
}

func (t *throttle) reset() { *t = throttle{} }
