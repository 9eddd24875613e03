package drill

import (
	"fmt"
	"io"
	"time"
)

// Report is the outcome of a drill. Durations are in nanoseconds in JSON.
type Report struct {
	ClusterID string    `json:"cluster_id"`
	Channel   string    `json:"channel"`
	Mode      Mode      `json:"mode"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`

	// Before is the active member when the drill started; After the one
	// active once the failover completed.
	Before Member `json:"before"`
	After  Member `json:"after"`
	// Triggered is when the step-down was requested or, in ModeWait, when
	// the drill started waiting for the operator.
	Triggered time.Time `json:"triggered"`
	// Detected is how long after Triggered the drill saw the new active on
	// the monitoring endpoints (bounded by the probing interval).
	Detected time.Duration `json:"detected_ns"`
	// StepDownConfirmed and StepDownTookOver are from the step-down
	// protocol: request → notice of the old active, and request → first
	// heartbeat of the new one (ModeStepDown only).
	StepDownConfirmed time.Duration `json:"step_down_confirmed_ns,omitempty"`
	StepDownTookOver  time.Duration `json:"step_down_took_over_ns,omitempty"`

	// Outage is the time without service as a client saw it: the longest
	// interval between consecutive PubAcks around the failover (its
	// resolution is one publish interval, 1/rate).
	Outage      time.Duration `json:"outage_ns"`
	OutageStart time.Time     `json:"outage_start"`
	OutageEnd   time.Time     `json:"outage_end"`

	// Published counts publishes sent; Acknowledged those with a PubAck;
	// Unacknowledged those that failed (timeout during the gap, not
	// connected): a client would retry them.
	Published      int `json:"published"`
	Acknowledged   int `json:"acknowledged"`
	Unacknowledged int `json:"unacknowledged"`
	// Delivered counts distinct messages the durable subscriber received;
	// Duplicated the deliveries beyond the first of each; Redelivered the
	// deliveries flagged Redelivered; DeliveredUnacknowledged the messages
	// stored although their PubAck never arrived (at-least-once).
	Delivered               int `json:"delivered"`
	Duplicated              int `json:"duplicated"`
	Redelivered             int `json:"redelivered"`
	DeliveredUnacknowledged int `json:"delivered_unacknowledged"`
	// Lost counts acknowledged messages never delivered; LostIDs lists the
	// first of them (publish order).
	Lost    int      `json:"lost"`
	LostIDs []uint64 `json:"lost_ids,omitempty"`
}

// OK reports whether no acknowledged message was lost.
func (r *Report) OK() bool { return r.Lost == 0 }

// WriteText writes the human report.
func (r *Report) WriteText(w io.Writer) error {
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	member := func(m Member) string {
		if m.URL == "" {
			return "(none)"
		}
		return fmt.Sprintf("%s (server %s, epoch %d)", m.URL, m.ServerID, m.Epoch)
	}
	verdict := "PASS: no acknowledged message lost"
	if !r.OK() {
		verdict = fmt.Sprintf("FAIL: %d acknowledged message(s) lost, first ids %v", r.Lost, r.LostIDs)
	}
	lines := []string{
		fmt.Sprintf("stanft drill: cluster %q, channel %q, mode %s, %s", r.ClusterID, r.Channel, r.Mode, ms(r.Finished.Sub(r.Started))),
		fmt.Sprintf("  active before:        %s", member(r.Before)),
		fmt.Sprintf("  active after:         %s", member(r.After)),
		fmt.Sprintf("  new active seen after %s", ms(r.Detected)),
	}
	if r.Mode == ModeStepDown {
		lines = append(lines, fmt.Sprintf("  step-down confirmed in %s, new active heartbeat after %s", ms(r.StepDownConfirmed), ms(r.StepDownTookOver)))
	}
	lines = append(lines,
		fmt.Sprintf("  time without service: %s (longest gap between PubAcks)", ms(r.Outage)),
		fmt.Sprintf("  published %d, acknowledged %d, unacknowledged %d (a client retries these)", r.Published, r.Acknowledged, r.Unacknowledged),
		fmt.Sprintf("  delivered %d, duplicated %d, redelivered %d, stored without PubAck %d", r.Delivered, r.Duplicated, r.Redelivered, r.DeliveredUnacknowledged),
		fmt.Sprintf("  lost %d", r.Lost),
		verdict,
	)
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return fmt.Errorf("drill: write report: %w", err)
		}
	}
	return nil
}
