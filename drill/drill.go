package drill

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/ft/natsbeacon"
)

// Errors of Run.
var (
	// ErrNoSingleActive: the group did not have exactly one active member
	// when the drill started.
	ErrNoSingleActive = errors.New("drill: want exactly one active member")
	// ErrNoFailover: no new active member was seen before the timeout.
	ErrNoFailover = errors.New("drill: no new active member")
	// ErrConnectionLost: the STAN client gave its session up (the failover
	// took longer than the client's ping budget, or the session was not
	// recovered).
	ErrConnectionLost = errors.New("drill: client connection lost")
)

// probeInterval is how often members are probed while waiting for the new
// active.
const probeInterval = 100 * time.Millisecond

// Run runs one drill: see the package doc. progress receives a live
// progress line (nil: none). It returns the report, and an error if the
// drill could not complete (the report is then partial, or nil if nothing
// was measured). A report with Lost > 0 is not an error: check Report.OK.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Channel == "" {
		cfg.Channel = "drill." + nuid.Next()
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "stanft-drill-" + nuid.Next()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	d := &drill{
		cfg:    cfg,
		log:    cfg.Logger.Named("drill"),
		out:    progress,
		probe:  newProber(),
		hist:   newHistory(),
		report: &Report{ClusterID: cfg.ClusterID, Channel: cfg.Channel, Mode: cfg.Mode, Started: time.Now()},
	}
	d.phase.Store("starting")
	err := d.run(ctx)
	d.report.Finished = time.Now()
	if err != nil && d.report.Published == 0 {
		return nil, err
	}
	return d.report, err
}

type drill struct {
	cfg    Config
	log    hclog.Logger
	out    io.Writer
	probe  *prober
	hist   *history
	report *Report
	phase  atomic.Value // string, shown in the progress line

	lost chan error // the STAN connection was lost (buffered 1)
}

func (d *drill) run(ctx context.Context) error {
	// 1. The group has exactly one active member.
	before := d.probe.probeAll(ctx, d.cfg.Members)
	act := actives(before)
	if len(act) != 1 {
		return fmt.Errorf("%w, found %d: %s", ErrNoSingleActive, len(act), describe(before))
	}
	d.report.Before = act[0]
	d.log.Debug("active before", "url", act[0].URL, "server_id", act[0].ServerID, "epoch", act[0].Epoch)

	// 2. Client, durable subscriber, publisher, progress line.
	nc, err := nats.Connect(d.cfg.NATSURL,
		nats.Name(d.cfg.ClientID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		// Publishes during a reconnect fail at once instead of queueing.
		nats.ReconnectBufSize(-1))
	if err != nil {
		return fmt.Errorf("drill: connect to NATS %s: %w", d.cfg.NATSURL, err)
	}
	defer nc.Close()
	d.lost = make(chan error, 1)
	sc, err := d.connect(ctx, nc)
	if err != nil {
		return err
	}
	defer sc.Close()
	sub, err := sc.Subscribe(d.cfg.Channel, d.onMsg,
		stan.DurableName("drill"),
		stan.DeliverAllAvailable(),
		stan.SetManualAckMode(),
		stan.AckWait(10*time.Second))
	if err != nil {
		return fmt.Errorf("drill: subscribe to %q: %w", d.cfg.Channel, err)
	}
	// Unsubscribe (not Close) deletes the durable: the drill leaves no state
	// behind but its channel.
	defer func() {
		if err := sub.Unsubscribe(); err != nil {
			d.log.Debug("unsubscribe", "error", err)
		}
	}()

	stopPub := make(chan struct{})
	stopProgress := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.publishLoop(ctx, sc, stopPub) }()
	go func() { defer wg.Done(); d.progressLoop(stopProgress) }()
	pubStopped := false
	stopPublishing := func() {
		if !pubStopped {
			pubStopped = true
			close(stopPub)
		}
	}
	defer func() {
		stopPublishing()
		close(stopProgress)
		wg.Wait()
		d.hist.fill(d.report, d.report.Triggered.Add(-time.Second/time.Duration(d.cfg.Rate)))
	}()

	// 3. Warm up, then trigger the failover and wait for the new active.
	d.phase.Store("warmup")
	if err := d.sleep(ctx, d.cfg.Warmup); err != nil {
		return err
	}
	if err := d.failover(ctx, nc); err != nil {
		return err
	}

	// 4. Keep publishing through the new active, then let every publish
	// settle and every acknowledged message arrive.
	d.phase.Store("settle")
	if err := d.sleep(ctx, d.cfg.Settle); err != nil {
		return err
	}
	stopPublishing()
	d.phase.Store("drain")
	d.waitFor(ctx, d.cfg.PubAckWait+time.Second, d.hist.settled)
	d.waitFor(ctx, d.cfg.Drain, func() bool { return d.hist.counts().missing == 0 })
	if after := d.activeNow(ctx); after != nil {
		d.report.After = *after
	}
	d.phase.Store("done")
	return nil
}

// connectRetry bounds the retries of the STAN connect: a connect request
// fails fast (stan.go's 2 s ConnectWait) while NATS routes or interest are
// still forming, as they are just after a group starts.
const connectRetry = 15 * time.Second

// connect opens the STAN session, retrying while the request times out.
func (d *drill) connect(ctx context.Context, nc *nats.Conn) (stan.Conn, error) {
	deadline := time.Now().Add(connectRetry)
	for {
		sc, err := stan.Connect(d.cfg.ClusterID, d.cfg.ClientID,
			stan.NatsConn(nc),
			stan.PubAckWait(d.cfg.PubAckWait),
			stan.SetConnectionLostHandler(func(_ stan.Conn, err error) {
				select {
				case d.lost <- err:
				default:
				}
			}))
		if err == nil {
			return sc, nil
		}
		if !errors.Is(err, stan.ErrConnectReqTimeout) || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("drill: connect to cluster %q: %w", d.cfg.ClusterID, err)
		}
		d.log.Debug("connect request timed out, retrying", "error", err)
		if err := d.sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// failover triggers the failover and waits until a new active member (a
// different server, or a higher epoch) is seen.
func (d *drill) failover(ctx context.Context, nc *nats.Conn) error {
	d.report.Triggered = time.Now()
	before := d.report.Before
	type stepDownResult struct {
		res natsbeacon.StepDownResult
		err error
	}
	// Buffered: the goroutine never blocks, and ends with ctx.
	stepDown := make(chan stepDownResult, 1)
	switch d.cfg.Mode {
	case ModeStepDown:
		d.phase.Store("step-down")
		sdCtx, sdCancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer wg.Wait()
		defer sdCancel() // runs before wg.Wait: the request ends with failover
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := natsbeacon.RequestStepDown(sdCtx, nc, d.cfg.ClusterID, d.cfg.FTGroup)
			stepDown <- stepDownResult{res: res, err: err}
		}()
	case ModeWait:
		d.phase.Store("waiting for the operator")
		fmt.Fprintf(d.out, "drill: now kill, stop or pause the active member %s (server %s, epoch %d)\n",
			before.URL, before.ServerID, before.Epoch)
	}
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		if m := d.activeNow(ctx); m != nil && (m.ServerID != before.ServerID || m.Epoch > before.Epoch) {
			d.report.After = *m
			d.report.Detected = time.Since(d.report.Triggered)
			d.log.Debug("new active", "url", m.URL, "server_id", m.ServerID, "epoch", m.Epoch)
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w within the timeout: %s", ErrNoFailover, describe(d.probe.probeAll(context.Background(), d.cfg.Members)))
		case err := <-d.lost:
			return fmt.Errorf("%w: %w", ErrConnectionLost, err)
		case <-tick.C:
		}
	}
	if d.cfg.Mode == ModeStepDown {
		// The step-down protocol also waits for the new active's heartbeat;
		// its answer gives the confirmation timings.
		select {
		case r := <-stepDown:
			if r.err != nil {
				return fmt.Errorf("drill: step-down: %w", r.err)
			}
			d.report.StepDownConfirmed, d.report.StepDownTookOver = r.res.Confirmed, r.res.TookOver
		case <-ctx.Done():
			return fmt.Errorf("drill: step-down: %w", ctx.Err())
		}
	}
	return nil
}

// activeNow returns the one active member, or nil if there is none (or,
// in the instant of a hand-over, two).
func (d *drill) activeNow(ctx context.Context) *Member {
	act := actives(d.probe.probeAll(ctx, d.cfg.Members))
	if len(act) != 1 {
		return nil
	}
	return &act[0]
}

// publishLoop publishes at the configured rate until stop or ctx ends. Each
// payload starts with its id (big endian); ids start at 1.
func (d *drill) publishLoop(ctx context.Context, sc stan.Conn, stop <-chan struct{}) {
	tick := time.NewTicker(time.Second / time.Duration(d.cfg.Rate))
	defer tick.Stop()
	var id uint64
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		id++
		payload := make([]byte, d.cfg.Size)
		binary.BigEndian.PutUint64(payload, id)
		mid := id
		_, err := sc.PublishAsync(d.cfg.Channel, payload, func(_ string, err error) {
			d.hist.ack(mid, time.Now(), err)
		})
		d.hist.publish(err == nil)
	}
}

// onMsg records a delivery and acknowledges it.
func (d *drill) onMsg(m *stan.Msg) {
	if len(m.Data) >= 8 {
		d.hist.deliver(binary.BigEndian.Uint64(m.Data), m.Redelivered)
	}
	_ = m.Ack()
}

// progressLoop writes the progress line every ProgressInterval until stop.
func (d *drill) progressLoop(stop <-chan struct{}) {
	tick := time.NewTicker(d.cfg.ProgressInterval)
	defer tick.Stop()
	term := isTerminal(d.out)
	start := time.Now()
	for {
		select {
		case <-stop:
			if term {
				fmt.Fprintln(d.out)
			}
			return
		case <-tick.C:
		}
		c := d.hist.counts()
		line := fmt.Sprintf("drill %5.1fs %-24s published %d  acked %d  unacked %d  delivered %d  not yet delivered %d",
			time.Since(start).Seconds(), d.phase.Load(), c.published, c.acked, c.failed, c.delivered, c.missing)
		if term {
			fmt.Fprintf(d.out, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(d.out, line)
		}
	}
}

// sleep waits for dur, the end of ctx, or the loss of the STAN connection.
func (d *drill) sleep(ctx context.Context, dur time.Duration) error {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drill: %w", ctx.Err())
	case err := <-d.lost:
		return fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
}

// waitFor polls cond until it holds, limit elapses or ctx ends.
func (d *drill) waitFor(ctx context.Context, limit time.Duration, cond func() bool) {
	deadline := time.Now().Add(limit)
	for !cond() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
}

// describe summarises members for an error message.
func describe(ms []Member) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		switch {
		case m.Err != "":
			parts = append(parts, fmt.Sprintf("%s: %s", m.URL, m.Err))
		default:
			parts = append(parts, fmt.Sprintf("%s: %s active=%v epoch=%d", m.URL, m.State, m.Active, m.Epoch))
		}
	}
	return strings.Join(parts, "; ")
}

// isTerminal reports whether w is a character device (a terminal), where
// the progress line is rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
