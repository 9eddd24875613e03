package natsbeacon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/stanft/stanft/ft"
)

// Errors of RequestStepDown.
var (
	// ErrNoActive: no active member's heartbeat was heard before ctx ended.
	ErrNoActive = errors.New("natsbeacon: no active member heard")
	// ErrNoConfirmation: the active did not confirm the step-down.
	ErrNoConfirmation = errors.New("natsbeacon: step-down not confirmed")
	// ErrNoNewActive: the active stepped down but no member took over
	// before ctx ended.
	ErrNoNewActive = errors.New("natsbeacon: no new active member heard")
)

// requestResend is how often an unconfirmed request is repeated.
const requestResend = 500 * time.Millisecond

// StepDownResult reports a step-down: who stood down and who took over.
type StepDownResult struct {
	Previous      string   // the member that stood down
	PreviousEpoch ft.Epoch // its epoch
	Next          string   // the member that took over ("" if none yet)
	NextEpoch     ft.Epoch
	Confirmed     time.Duration // from the request to the step-down notice
	TookOver      time.Duration // from the request to the new active's first heartbeat
}

// RequestStepDown asks the active member of a group to step down and waits
// for the hand-over. Protocol (see ft/doc.go):
//
//  1. wait for a heartbeat of the active (ID, epoch) — ErrNoActive if none;
//  2. publish a step-down request targeted at that ID and epoch (a later
//     active, with a higher epoch, ignores it), repeated every 500ms until
//  3. the target's step-down notice arrives carrying the request's ID, sent
//     after it flushed its store and released the lock — ErrNoConfirmation
//     if not;
//  4. wait for a heartbeat with a higher epoch: the new active —
//     ErrNoNewActive if none (the result then names only the previous one).
//
// Every wait ends with ctx: give it a deadline. Anyone allowed to publish on
// the FT subject can do this; restrict `_STAN.ft.>` with NATS permissions.
func RequestStepDown(ctx context.Context, nc *nats.Conn, clusterID, group string) (StepDownResult, error) {
	var res StepDownResult
	if nc == nil || !validToken(clusterID) || !validToken(group) {
		return res, errors.New("natsbeacon: step-down: connection, cluster ID and group are required")
	}
	subject := Subject(clusterID, group)
	ch := make(chan *nats.Msg, 256)
	sub, err := nc.ChanSubscribe(subject, ch)
	if err != nil {
		return res, fmt.Errorf("natsbeacon: subscribe %s: %w", subject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := flush(ctx, nc); err != nil {
		return res, err
	}
	next := func() (ft.Heartbeat, error) {
		for {
			select {
			case <-ctx.Done():
				return ft.Heartbeat{}, ctx.Err()
			case m := <-ch:
				if h, err := ft.DecodeHeartbeat(m.Data); err == nil {
					return h, nil
				}
			}
		}
	}

	// 1. Find the active.
	for res.Previous == "" {
		h, err := next()
		if err != nil {
			return res, fmt.Errorf("%w on %s: %w", ErrNoActive, subject, err)
		}
		if h.Kind == ft.KindHeartbeat && h.State == ft.Active {
			res.Previous, res.PreviousEpoch = h.ServerID, h.Epoch
		}
	}

	// 2-3. Ask it, until it confirms.
	req := ft.Heartbeat{Kind: ft.KindStepDownRequest, ServerID: "stanft-cli-" + nuid.Next(), State: ft.Standby,
		Target: res.Previous, Epoch: res.PreviousEpoch, RequestID: nuid.Next()}
	raw, err := req.Encode()
	if err != nil {
		return res, err
	}
	start := time.Now()
	resend := time.NewTicker(requestResend)
	defer resend.Stop()
	send := func() error {
		if err := nc.Publish(subject, raw); err != nil {
			return fmt.Errorf("natsbeacon: publish step-down request: %w", err)
		}
		return flush(ctx, nc)
	}
	if err := send(); err != nil {
		return res, err
	}
	for res.Confirmed == 0 {
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("%w by %s (epoch %d): %w", ErrNoConfirmation, res.Previous, res.PreviousEpoch, ctx.Err())
		case <-resend.C:
			if err := send(); err != nil {
				return res, err
			}
		case m := <-ch:
			h, err := ft.DecodeHeartbeat(m.Data)
			if err != nil {
				continue
			}
			switch {
			case h.Kind == ft.KindStepDownNotice && h.ServerID == res.Previous && h.Epoch == res.PreviousEpoch:
				res.Confirmed = max(time.Since(start), time.Nanosecond)
			case h.Kind == ft.KindHeartbeat && h.Epoch > res.PreviousEpoch:
				// The notice was lost but someone already took over.
				res.Confirmed = max(time.Since(start), time.Nanosecond)
				res.Next, res.NextEpoch, res.TookOver = h.ServerID, h.Epoch, res.Confirmed
			}
		}
	}
	resend.Stop()

	// 4. Wait for the new active.
	for res.Next == "" {
		h, err := next()
		if err != nil {
			return res, fmt.Errorf("%w after %s stepped down: %w", ErrNoNewActive, res.Previous, err)
		}
		if h.Kind == ft.KindHeartbeat && h.Epoch > res.PreviousEpoch {
			res.Next, res.NextEpoch, res.TookOver = h.ServerID, h.Epoch, time.Since(start)
		}
	}
	return res, nil
}

func flush(ctx context.Context, nc *nats.Conn) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultFlushTimeout)
		defer cancel()
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("natsbeacon: flush: %w", err)
	}
	return nil
}
