package ft

import "time"

// Metrics receives the elector's observations. The monitor package
// implements it for Prometheus. Implementations must be cheap and safe for
// concurrent use: FTFencingCheck is called from the store's flush path.
type Metrics interface {
	// FTState is called on every state transition with State.String().
	FTState(state string)
	// FTEpoch is called with the epoch of each successful acquisition.
	FTEpoch(e uint64)
	// FTFailover is called when this member becomes Active after having
	// seen another member active (a heartbeat, a step-down notice, or the
	// lock held) since it started: a take-over, as opposed to the group's
	// first activation.
	FTFailover()
	// FTTimeToActive is called when this member becomes Active, with the
	// three phases of the take-over:
	//   detection: from the last sign of life of the previous active (its
	//     last heartbeat or its step-down notice; for a member that never saw
	//     one, the start of Run or its return to standby) to the first lock
	//     attempt after it;
	//   lockWait: from that attempt to the successful acquisition, including
	//     the durable epoch write;
	//   recovery: from acquisition to OnPromote's successful return.
	FTTimeToActive(detection, lockWait, recovery time.Duration)
	// FTLockCheck is called after each periodic lock check by the active.
	FTLockCheck(ok bool)
	// FTFencingCheck is called after each Elector.Fence (before a store
	// flush).
	FTFencingCheck(ok bool)
	// FTHeartbeatSeen is called for each valid heartbeat from another member.
	FTHeartbeatSeen()
}

// NopMetrics discards everything. It is the default Config.Metrics.
type NopMetrics struct{}

var _ Metrics = NopMetrics{}

func (NopMetrics) FTState(string)                       {}
func (NopMetrics) FTEpoch(uint64)                       {}
func (NopMetrics) FTFailover()                          {}
func (NopMetrics) FTTimeToActive(_, _, _ time.Duration) {}
func (NopMetrics) FTLockCheck(bool)                     {}
func (NopMetrics) FTFencingCheck(bool)                  {}
func (NopMetrics) FTHeartbeatSeen()                     {}
