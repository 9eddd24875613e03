package e2e

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// StateSample is one /streaming/serverz observation of one member: the state
// held at some instant between Start and End.
type StateSample struct {
	Member     int
	Start, End time.Time
	State      string // "" when the member did not answer
}

// StateWatcher polls /streaming/serverz of every member of a group, each
// member in its own goroutine, and records the answers.
type StateWatcher struct {
	g      *Group
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	samples []StateSample
	excused map[int]time.Time // member -> samples started before are not checked
}

// Excuse leaves member i's samples that started before until out of
// CheckSingleActive. A member frozen by SIGSTOP cannot know that it lost
// its lock until it runs again: the requests it answers right after
// SIGCONT still say FT_ACTIVE. The test that freezes it checks instead that
// it stops within a bound and writes nothing.
func (w *StateWatcher) Excuse(i int, until time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.excused == nil {
		w.excused = make(map[int]time.Time)
	}
	w.excused[i] = until
}

// WatchStates starts polling every interval (e.g. 20 ms). Stop it before
// checking; it is also stopped in t.Cleanup.
func WatchStates(g *Group, interval time.Duration) *StateWatcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &StateWatcher{g: g, cancel: cancel}
	for _, m := range g.Members {
		w.wg.Add(1)
		go w.poll(ctx, m, interval)
	}
	g.t.Cleanup(w.Stop)
	return w
}

func (w *StateWatcher) poll(ctx context.Context, m *Member, interval time.Duration) {
	defer w.wg.Done()
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		if !m.Running() {
			continue
		}
		start := time.Now()
		s, err := m.Serverz()
		st := s.State
		if err != nil {
			st = ""
		}
		w.mu.Lock()
		w.samples = append(w.samples, StateSample{Member: m.Index, Start: start, End: time.Now(), State: st})
		w.mu.Unlock()
	}
}

// Stop stops polling; idempotent.
func (w *StateWatcher) Stop() {
	w.cancel()
	w.wg.Wait()
}

// Samples returns a copy of the observations.
func (w *StateWatcher) Samples() []StateSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]StateSample(nil), w.samples...)
}

// ActiveCount returns how many samples of member i reported FT_ACTIVE.
func (w *StateWatcher) ActiveCount(i int) int {
	n := 0
	for _, s := range w.Samples() {
		if s.Member == i && s.State == StateActive {
			n++
		}
	}
	return n
}

// CheckSingleActive fails when two members reported FT_ACTIVE at the same
// time. Each answer holds at some unknown instant of its request, so one
// overlap of two FT_ACTIVE answers can be a hand-off seen from both sides;
// the check reports a violation when a member's FT_ACTIVE answers overlap
// FT_ACTIVE answers of another member in at least two of its polls (the
// double activity lasted at least a poll interval).
func (w *StateWatcher) CheckSingleActive() error {
	samples := w.Samples()
	w.mu.Lock()
	excused := w.excused
	w.mu.Unlock()
	byMember := make(map[int][]StateSample)
	for _, s := range samples {
		if until, ok := excused[s.Member]; ok && s.Start.Before(until) {
			continue
		}
		if s.State == StateActive {
			byMember[s.Member] = append(byMember[s.Member], s)
		}
	}
	for a, as := range byMember {
		for b, bs := range byMember {
			if a >= b {
				continue
			}
			overlapping := 0
			var first StateSample
			for _, x := range as {
				for _, y := range bs {
					if x.Start.Before(y.End) && y.Start.Before(x.End) {
						if overlapping == 0 {
							first = x
						}
						overlapping++
						break
					}
				}
			}
			if overlapping >= 2 {
				return fmt.Errorf("e2e: members %d and %d both reported %s in %d overlapping polls (first at %s)",
					a, b, StateActive, overlapping, first.Start.Format("15:04:05.000"))
			}
		}
	}
	return nil
}
