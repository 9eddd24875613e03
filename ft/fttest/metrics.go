package fttest

import (
	"sync"
	"time"

	"github.com/stanft/stanft/ft"
)

// TimeToActive is one FTTimeToActive observation.
type TimeToActive struct {
	Detection, LockWait, Recovery time.Duration
}

// Total is the sum of the phases.
func (t TimeToActive) Total() time.Duration { return t.Detection + t.LockWait + t.Recovery }

// RecordingMetrics records every ft.Metrics call.
type RecordingMetrics struct {
	mu           sync.Mutex
	states       []string
	epochs       []uint64
	failovers    int
	timeToActive []TimeToActive
	lockChecks   [2]int // [failed, ok]
	fenceChecks  [2]int
	heartbeats   int
}

var _ ft.Metrics = (*RecordingMetrics)(nil)

// NewRecordingMetrics returns an empty recorder.
func NewRecordingMetrics() *RecordingMetrics { return &RecordingMetrics{} }

func (r *RecordingMetrics) FTState(s string) {
	r.mu.Lock()
	r.states = append(r.states, s)
	r.mu.Unlock()
}
func (r *RecordingMetrics) FTEpoch(e uint64) {
	r.mu.Lock()
	r.epochs = append(r.epochs, e)
	r.mu.Unlock()
}
func (r *RecordingMetrics) FTFailover() { r.mu.Lock(); r.failovers++; r.mu.Unlock() }
func (r *RecordingMetrics) FTTimeToActive(d, l, rec time.Duration) {
	r.mu.Lock()
	r.timeToActive = append(r.timeToActive, TimeToActive{Detection: d, LockWait: l, Recovery: rec})
	r.mu.Unlock()
}
func (r *RecordingMetrics) FTLockCheck(ok bool) { r.mu.Lock(); r.lockChecks[b2i(ok)]++; r.mu.Unlock() }
func (r *RecordingMetrics) FTFencingCheck(ok bool) {
	r.mu.Lock()
	r.fenceChecks[b2i(ok)]++
	r.mu.Unlock()
}
func (r *RecordingMetrics) FTHeartbeatSeen() { r.mu.Lock(); r.heartbeats++; r.mu.Unlock() }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// States returns the states reported, in order.
func (r *RecordingMetrics) States() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.states...)
}

// Epochs returns the epochs reported, in order.
func (r *RecordingMetrics) Epochs() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.epochs...)
}

// Failovers returns the FTFailover count.
func (r *RecordingMetrics) Failovers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failovers
}

// TimesToActive returns the FTTimeToActive observations.
func (r *RecordingMetrics) TimesToActive() []TimeToActive {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]TimeToActive(nil), r.timeToActive...)
}

// LockChecks returns the counts of successful and failed lock checks.
func (r *RecordingMetrics) LockChecks() (ok, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lockChecks[1], r.lockChecks[0]
}

// FencingChecks returns the counts of successful and failed fencing checks.
func (r *RecordingMetrics) FencingChecks() (ok, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fenceChecks[1], r.fenceChecks[0]
}

// HeartbeatsSeen returns the FTHeartbeatSeen count.
func (r *RecordingMetrics) HeartbeatsSeen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.heartbeats
}
