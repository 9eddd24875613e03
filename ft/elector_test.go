package ft_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/ft"
	"github.com/stanft/stanft/ft/fttest"
	"github.com/stanft/stanft/internal/testenv"
)

// waitFor polls cond every millisecond of (bubble) time until it holds or
// d elapses; it returns the time it took and whether cond held.
func waitFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > d {
			return time.Since(start), false
		}
		time.Sleep(time.Millisecond)
	}
}

// settle lets the group elect an active and returns it.
func settle(t *testing.T, g *fttest.Group) *fttest.Member {
	t.Helper()
	var act *fttest.Member
	if _, ok := waitFor(time.Second, func() bool { act = g.Active(); return act != nil }); !ok {
		t.Fatal("no active member within 1s")
	}
	return act
}

// checkGroup asserts the invariants every scenario must keep: legal state
// sequences, one OnDemote per OnPromote once stopped, and a write history
// whose epochs never go backwards.
func checkGroup(t *testing.T, g *fttest.Group) {
	t.Helper()
	g.Stop()
	g.CheckHistory()
	for _, m := range g.Members {
		states := m.Metrics.States()
		if len(states) == 0 || states[0] != "standby" {
			t.Errorf("%s: first reported state %v, want standby", m.ID, states)
		}
		prev := ft.Standby
		for _, s := range states[min(1, len(states)):] {
			var st ft.State
			if err := st.UnmarshalText([]byte(s)); err != nil {
				t.Fatalf("%s: %v", m.ID, err)
			}
			if !prev.CanTransitionTo(st) {
				t.Errorf("%s: illegal transition %s → %s", m.ID, prev, st)
			}
			prev = st
		}
		if prev != ft.Stopped {
			t.Errorf("%s: final state %s, want stopped", m.ID, prev)
		}
		if p, d := m.Promotions(), len(m.Demotions()); p != d {
			t.Errorf("%s: %d promotions but %d demotions", m.ID, p, d)
		}
	}
}

// standingBy: Standby, or Acquiring during one of its polls.
func standingBy(s ft.Status) bool { return s.State == ft.Standby || s.State == ft.Acquiring }

func others(g *fttest.Group, not *fttest.Member) []*fttest.Member {
	var out []*fttest.Member
	for _, m := range g.Members {
		if m != not {
			out = append(out, m)
		}
	}
	return out
}

func TestStartupElection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 3, fttest.GroupOptions{})
		act := settle(t, g)
		st := act.Elector.Status()
		if st.Epoch != 1 || st.ActiveID != act.ID || !st.Connected {
			t.Fatalf("active status = %+v", st)
		}
		if n := g.Lock.Acquisitions(); n != 1 {
			t.Fatalf("acquisitions = %d, want 1", n)
		}
		if f := act.Metrics.Failovers(); f != 0 {
			t.Fatalf("first activation counted as failover: %d", f)
		}
		// Standbys learn who is active from the heartbeats; the active has
		// made its first periodic lock check.
		time.Sleep(ft.DefaultLockCheckInterval + 100*time.Millisecond)
		for _, m := range g.Standbys() {
			s := m.Elector.Status()
			if s.ActiveID != act.ID || s.Epoch != 0 || s.LastHeartbeatSeen.IsZero() {
				t.Errorf("%s status = %+v", m.ID, s)
			}
			if got := m.NewActives(); len(got) != 1 || got[0] != act.ID {
				t.Errorf("%s OnNewActive = %v", m.ID, got)
			}
			if time.Since(s.LastProgress) > 2*ft.DefaultLockPollInterval {
				t.Errorf("%s LastProgress stale: %v", m.ID, s.LastProgress)
			}
			// Its lock polls (a dozen by now) do not flicker the metric.
			if got := m.Metrics.States(); !slices.Equal(got, []string{"standby"}) {
				t.Errorf("%s reported states %v, want only standby", m.ID, got)
			}
		}
		if len(g.Standbys()) != 2 {
			t.Fatalf("standbys = %d, want 2", len(g.Standbys()))
		}
		if len(g.History()) == 0 {
			t.Fatal("the active never wrote")
		}
		if ok, failed := act.Metrics.LockChecks(); ok == 0 || failed != 0 {
			t.Fatalf("lock checks ok=%d failed=%d", ok, failed)
		}
		checkGroup(t, g)
	})
}

func TestKilledActiveIsReplacedFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 3, fttest.GroupOptions{Recovery: 20 * time.Millisecond})
		old := settle(t, g)
		time.Sleep(2 * time.Second)
		g.Kill(old.ID)
		var act *fttest.Member
		took, ok := waitFor(2*time.Second, func() bool { act = g.Active(); return act != nil && act != old })
		if !ok {
			t.Fatal("no take-over within 2s")
		}
		// One lock poll plus recovery.
		if limit := ft.DefaultLockPollInterval + 20*time.Millisecond + 5*time.Millisecond; took > limit {
			t.Fatalf("take-over took %v, want ≤ %v", took, limit)
		}
		if e := act.Elector.Status().Epoch; e != 2 {
			t.Fatalf("new epoch = %d, want 2", e)
		}
		if f := act.Metrics.Failovers(); f != 1 {
			t.Fatalf("failovers = %d, want 1", f)
		}
		tta := act.Metrics.TimesToActive()
		if len(tta) != 1 || tta[0].Recovery != 20*time.Millisecond || tta[0].Total() > ft.DefaultHeartbeatInterval+took {
			t.Fatalf("time to active = %+v (take-over %v)", tta, took)
		}
		<-old.Done() // whatever it returns: a killed process returns nothing
		checkGroup(t, g)
	})
}

func TestLostLockFencesTheActive(t *testing.T) {
	for _, tc := range []struct {
		name       string
		writeEvery time.Duration
		within     time.Duration
		lose       func(g *fttest.Group)
	}{
		// A write's fencing check notices first.
		{"expired, caught by a write", 10 * time.Millisecond, 15 * time.Millisecond, func(g *fttest.Group) { g.Lock.Expire() }},
		// Nothing is written and the standby is cut off (so no heartbeat
		// of a new active arrives): the periodic check (≤ 1s) notices.
		{"expired, caught by the periodic check", time.Hour, ft.DefaultLockCheckInterval + 5*time.Millisecond, func(g *fttest.Group) {
			g.Partition(g.Members[0].ID)
			g.Partition(g.Members[1].ID)
			g.Lock.Expire()
		}},
		// As above, but a new active's heartbeat reveals it first.
		{"expired, caught by a heartbeat", time.Hour, ft.DefaultLockPollInterval + 5*time.Millisecond, func(g *fttest.Group) { g.Lock.Expire() }},
		{"stolen", 10 * time.Millisecond, 15 * time.Millisecond, func(g *fttest.Group) { g.Lock.Steal() }},
		{"check error", time.Hour, ft.DefaultLockCheckInterval + 5*time.Millisecond, func(g *fttest.Group) {
			g.Lock.Fail(errors.New("EIO"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := fttest.NewGroup(t, 2, fttest.GroupOptions{WriteEvery: tc.writeEvery,
					Config: func(c *ft.Config) {
						c.HeartbeatInterval = 10 * time.Second
						c.MissedHeartbeatTimeout = 20 * time.Second
					}})
				old := settle(t, g)
				time.Sleep(100 * time.Millisecond)
				tc.lose(g)
				took, ok := waitFor(5*time.Second, func() bool {
					select {
					case <-old.Done():
						return true
					default:
						return false
					}
				})
				if !ok || took > tc.within {
					t.Fatalf("old active stopped after %v (ok=%v), want ≤ %v", took, ok, tc.within)
				}
				if err := old.Err(); !errors.Is(err, ft.ErrFenced) {
					t.Fatalf("Run = %v, want ErrFenced", err)
				}
				if _, failed := old.Metrics.FencingChecks(); tc.writeEvery < time.Second && failed == 0 {
					t.Error("no failed fencing check reported")
				}
				if _, failed := old.Metrics.LockChecks(); strings.Contains(tc.name, "periodic") && failed == 0 {
					t.Error("no failed lock check reported")
				}
				if d := old.Demotions(); len(d) != 1 || old.Serving() {
					t.Fatalf("demotions = %v, serving = %v", d, old.Serving())
				}
				if st := old.Elector.Status(); st.State != ft.Stopped || st.Epoch != 0 {
					t.Fatalf("old status = %+v", st)
				}
				g.Heal()
				g.Lock.Fail(nil)
				g.Lock.Expire() // end the steal, if any
				if _, ok := waitFor(time.Second, func() bool { return g.Active() != nil }); !ok {
					t.Fatal("nobody took over")
				}
				checkGroup(t, g)
			})
		})
	}
}

func TestActiveThatLosesNATSStandsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 2, fttest.GroupOptions{})
		old := settle(t, g)
		other := others(g, old)[0]
		time.Sleep(500 * time.Millisecond)
		g.Partition(old.ID)
		took, ok := waitFor(5*time.Second, func() bool { return other.Elector.Status().State == ft.Active })
		if !ok {
			t.Fatal("the connected standby never took over")
		}
		// Stand-down after more than the missed timeout, detected by a
		// connectivity check every quarter missed timeout (not at the
		// slower heartbeat ticks), then one poll (jittered ±10%).
		// (+5ms: waitFor's 1ms polling).
		limit := ft.DefaultMissedHeartbeatTimeout + 2*ft.DefaultMissedHeartbeatTimeout*11/40 +
			ft.DefaultLockPollInterval*11/10 + 5*time.Millisecond
		if took < ft.DefaultMissedHeartbeatTimeout || took > limit {
			t.Fatalf("take-over after %v, want in [%v, %v]", took, ft.DefaultMissedHeartbeatTimeout, limit)
		}
		if d := old.Demotions(); len(d) != 1 || !errors.Is(d[0], ft.ErrDisconnected) {
			t.Fatalf("old demotions = %v", d)
		}
		if s := old.Elector.Status(); s.State != ft.Standby || s.Connected {
			t.Fatalf("old status = %+v", s)
		}
		// Partitioned, it must not try the lock; healed, it stays standby.
		time.Sleep(3 * time.Second)
		g.Heal()
		time.Sleep(3 * time.Second)
		if s := old.Elector.Status(); !standingBy(s) || s.ActiveID != other.ID {
			t.Fatalf("old status after heal = %+v", s)
		}
		if old.Promotions() != 1 {
			t.Fatalf("old promoted again: %d", old.Promotions())
		}
		checkGroup(t, g)
	})
}

func TestDisconnectedStandbyDoesNotTakeOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 2, fttest.GroupOptions{})
		act := settle(t, g)
		sb := others(g, act)[0]
		g.Partition(sb.ID)
		if err := g.StopMember(act.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		if s := sb.Elector.Status(); s.State != ft.Standby {
			t.Fatalf("disconnected standby state = %s", s.State)
		}
		g.Heal()
		took, ok := waitFor(time.Second, func() bool { return sb.Elector.Status().State == ft.Active })
		if !ok || took > ft.DefaultLockPollInterval+time.Millisecond {
			t.Fatalf("take-over after heal: %v (ok=%v)", took, ok)
		}
		checkGroup(t, g)
	})
}

func TestGarbageOnTheSubjectDoesNotDelayTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 3, fttest.GroupOptions{})
		old := settle(t, g)
		time.Sleep(500 * time.Millisecond)
		stop := make(chan struct{})
		done := make(chan struct{})
		reference := []byte("\x08\x03\x12\x04abcd\x1a\x0f\x01\x00\x00\x00\x0e\xdd\x00\x00\x00\x00\x00\x00\x00\xff\xff")
		go func() {
			defer close(done)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
					switch i % 3 {
					case 0:
						g.Bus.Inject([]byte("garbage"))
					case 1:
						g.Bus.Inject(reference)
					case 2:
						g.Bus.Inject([]byte("STANFT\x01{\"kind\":\"heartbeat\",\"id\":\"x\",\"epoch\":9,\"state\":\"active\",\"extra\":1}"))
					}
				}
			}
		}()
		time.Sleep(200 * time.Millisecond)
		g.Kill(old.ID)
		var act *fttest.Member
		took, ok := waitFor(2*time.Second, func() bool { act = g.Active(); return act != nil && act != old })
		if !ok || took > ft.DefaultLockPollInterval+5*time.Millisecond {
			t.Fatalf("take-over with garbage took %v (ok=%v)", took, ok)
		}
		time.Sleep(2 * time.Second)
		for _, m := range g.Standbys() {
			if m == old {
				continue
			}
			if s := m.Elector.Status(); s.ActiveID != act.ID {
				t.Errorf("%s believes %q is active", m.ID, s.ActiveID)
			}
		}
		if s := act.Elector.Status(); s.State != ft.Active {
			t.Fatalf("garbage demoted the active: %+v", s)
		}
		close(stop)
		<-done
		checkGroup(t, g)
	})
}

func TestDualActiveLowerEpochStandsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// No writes and a slow periodic check: only heartbeats can reveal
		// the second active.
		g := fttest.NewGroup(t, 2, fttest.GroupOptions{WriteEvery: time.Hour})
		old := settle(t, g)
		other := others(g, old)[0]
		time.Sleep(300 * time.Millisecond)
		g.Lock.Expire() // e.g. an NFS lease lost without the holder noticing yet
		took, ok := waitFor(5*time.Second, func() bool {
			select {
			case <-old.Done():
				return true
			default:
				return false
			}
		})
		if !ok || took > ft.DefaultLockPollInterval+5*time.Millisecond {
			t.Fatalf("old active stopped after %v (ok=%v)", took, ok)
		}
		var aee *ft.ActiveElsewhereError
		if err := old.Err(); !errors.Is(err, ft.ErrFenced) || !errors.As(err, &aee) ||
			aee.ServerID != other.ID || aee.Epoch != 2 || aee.OurEpoch != 1 {
			t.Fatalf("Run = %v", old.Err())
		}
		time.Sleep(2 * time.Second)
		if s := other.Elector.Status(); s.State != ft.Active || s.Epoch != 2 {
			t.Fatalf("new active status = %+v", s)
		}
		checkGroup(t, g)
	})
}

func inject(t *testing.T, g *fttest.Group, h ft.Heartbeat) {
	t.Helper()
	b, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	g.Bus.Inject(b)
}

func TestInjectedActiveHeartbeats(t *testing.T) {
	for _, tc := range []struct {
		name      string
		delta     int // claimed epoch minus ours
		standDown bool
	}{
		{"lower epoch", -1, false},
		{"equal epoch", 0, true},
		{"higher epoch", +1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := fttest.NewGroup(t, 1, fttest.GroupOptions{})
				m := settle(t, g)
				// Step down and come back, to hold epoch 2.
				m.Elector.StepDown()
				if _, ok := waitFor(3*time.Second, func() bool { return m.Elector.Status().Epoch == 2 && g.Active() == m }); !ok {
					t.Fatalf("not active again with epoch 2: %+v", m.Elector.Status())
				}
				checksBefore, _ := m.Metrics.LockChecks()
				claim := ft.Epoch(2 + tc.delta)
				inject(t, g, ft.Heartbeat{Kind: ft.KindHeartbeat, ServerID: "intruder", Epoch: claim, State: ft.Active})
				time.Sleep(10 * time.Millisecond)
				if !tc.standDown {
					if s := m.Elector.Status(); s.State != ft.Active {
						t.Fatalf("demoted by a lower epoch: %+v", s)
					}
					if after, _ := m.Metrics.LockChecks(); after != checksBefore+1 {
						t.Fatalf("no immediate lock check: %d → %d", checksBefore, after)
					}
					checkGroup(t, g)
					return
				}
				<-m.Done()
				var aee *ft.ActiveElsewhereError
				if err := m.Err(); !errors.Is(err, ft.ErrFenced) || !errors.As(err, &aee) || aee.Epoch != claim {
					t.Fatalf("Run = %v", err)
				}
				checkGroup(t, g)
			})
		})
	}
}

// observer attaches a bus member that decodes everything it receives.
func observer(t *testing.T, g *fttest.Group) <-chan ft.Heartbeat {
	b := g.Bus.Beacon("observer")
	t.Cleanup(func() { _ = b.Close() })
	out := make(chan ft.Heartbeat, 1024)
	go func() {
		defer close(out)
		for raw := range b.Messages() {
			if h, err := ft.DecodeHeartbeat(raw); err == nil {
				out <- h
			}
		}
	}()
	g.Bus.Partition("observer") // connected only when asked
	return out
}

func TestStepDownHandsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 2, fttest.GroupOptions{})
		old := settle(t, g)
		other := others(g, old)[0]
		time.Sleep(time.Second)
		old.Elector.StepDown()
		took, ok := waitFor(time.Second, func() bool { return other.Elector.Status().State == ft.Active })
		if !ok || took > 5*time.Millisecond {
			t.Fatalf("hand-over took %v (ok=%v)", took, ok)
		}
		if d := old.Demotions(); len(d) != 1 || !errors.Is(d[0], ft.ErrSteppedDown) {
			t.Fatalf("demotions = %v", d)
		}
		// The old active stays a standby (it backs off, then finds the
		// lock held).
		time.Sleep(3 * time.Second)
		if s := old.Elector.Status(); !standingBy(s) || s.ActiveID != other.ID {
			t.Fatalf("old status = %+v", s)
		}
		// StepDown on a standby does nothing.
		old.Elector.StepDown()
		time.Sleep(100 * time.Millisecond)
		if g.Active() != other {
			t.Fatal("active changed")
		}
		checkGroup(t, g)
	})
}

func TestGracefulStopHandsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 3, fttest.GroupOptions{})
		old := settle(t, g)
		time.Sleep(time.Second)
		start := time.Now()
		if err := g.StopMember(old.ID); err != nil {
			t.Fatalf("Run after cancel = %v", err)
		}
		var act *fttest.Member
		if _, ok := waitFor(time.Second, func() bool { act = g.Active(); return act != nil }); !ok {
			t.Fatal("no take-over")
		}
		if took := time.Since(start); took > 5*time.Millisecond {
			t.Fatalf("hand-over took %v", took)
		}
		if d := old.Demotions(); len(d) != 1 || !errors.Is(d[0], ft.ErrStopping) {
			t.Fatalf("demotions = %v", d)
		}
		tta := act.Metrics.TimesToActive()
		if len(tta) != 1 || tta[0].Total() > 5*time.Millisecond {
			t.Fatalf("time to active = %+v", tta)
		}
		checkGroup(t, g)
	})
}

func TestStepDownRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 2, fttest.GroupOptions{})
		obs := observer(t, g)
		old := settle(t, g)
		g.Bus.Heal()
		// Requests for another member or another epoch are ignored.
		inject(t, g, ft.Heartbeat{Kind: ft.KindStepDownRequest, ServerID: "cli", State: ft.Standby, Target: "nobody", RequestID: "r1"})
		inject(t, g, ft.Heartbeat{Kind: ft.KindStepDownRequest, ServerID: "cli", State: ft.Standby, Epoch: 7, RequestID: "r2"})
		time.Sleep(100 * time.Millisecond)
		if g.Active() != old {
			t.Fatal("a request for someone else was honoured")
		}
		inject(t, g, ft.Heartbeat{Kind: ft.KindStepDownRequest, ServerID: "cli", State: ft.Standby, Epoch: 1, Target: old.ID, RequestID: "r3"})
		var notice ft.Heartbeat
		_, ok := waitFor(time.Second, func() bool {
			for {
				select {
				case h := <-obs:
					if h.Kind == ft.KindStepDownNotice {
						notice = h
						return true
					}
				default:
					return false
				}
			}
		})
		if !ok || notice.ServerID != old.ID || notice.Epoch != 1 || notice.RequestID != "r3" {
			t.Fatalf("notice = %+v (ok=%v)", notice, ok)
		}
		if _, ok := waitFor(time.Second, func() bool { a := g.Active(); return a != nil && a != old }); !ok {
			t.Fatal("no take-over after the request")
		}
		checkGroup(t, g)
	})
}

func TestPromotionFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := errors.New("cluster ID mismatch")
		g := fttest.NewGroup(t, 2, fttest.GroupOptions{
			Recovery:     10 * time.Millisecond,
			PromoteError: func(id string) error { return bad },
		})
		for _, m := range g.Members {
			select {
			case <-m.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("%s still running", m.ID)
			}
			if err := m.Err(); !errors.Is(err, ft.ErrPromote) || !errors.Is(err, bad) {
				t.Fatalf("%s: Run = %v", m.ID, err)
			}
			// The cause alone, for `Failed to start: <err>` (SPEC §8.6).
			if pe, ok := errors.AsType[*ft.PromoteError](m.Err()); !ok || pe.Err != bad {
				t.Fatalf("%s: Run = %#v, want a *ft.PromoteError of %v", m.ID, m.Err(), bad)
			}
			if d := m.Demotions(); len(d) != 1 || !errors.Is(d[0], bad) {
				t.Fatalf("%s: demotions = %v", m.ID, d)
			}
		}
		if h := g.Lock.Holder(); h != "" {
			t.Fatalf("lock still held by %s", h)
		}
		if g.Lock.Epoch() != 2 {
			t.Fatalf("epoch = %d, want 2", g.Lock.Epoch())
		}
		checkGroup(t, g)
	})
}

func TestShutdownDuringRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 2, fttest.GroupOptions{Recovery: time.Hour})
		var rec *fttest.Member
		if _, ok := waitFor(time.Second, func() bool {
			for _, m := range g.Members {
				if m.Elector.Status().State == ft.Recovering {
					rec = m
					return true
				}
			}
			return false
		}); !ok {
			t.Fatal("nobody recovering")
		}
		if err := g.StopMember(rec.ID); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if d := rec.Demotions(); len(d) != 1 || !errors.Is(d[0], ft.ErrStopping) || rec.Promotions() != 1 {
			t.Fatalf("promotions %d demotions %v", rec.Promotions(), d)
		}
		other := others(g, rec)[0]
		if _, ok := waitFor(time.Second, func() bool { return other.Elector.Status().State == ft.Recovering }); !ok {
			t.Fatal("the other member did not take over")
		}
		checkGroup(t, g)
	})
}

func TestLockErrors(t *testing.T) {
	t.Run("fatal", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := fttest.NewGroup(t, 2, fttest.GroupOptions{Config: func(c *ft.Config) {}})
			g.Lock.Fail(nil)
			settle(t, g)
			checkGroup(t, g)
		})
		// SPEC §8.4: a fatal lock error is logged with the reference's text
		// (rate limited) and the standby keeps trying, at the missed
		// interval; once the lock works it takes over.
		synctest.Test(t, func(t *testing.T) {
			lock := fttest.NewMemLock()
			lock.Fail(errors.Join(ft.ErrLockFatal, errors.New("permission denied: /data")))
			bus := fttest.NewBus()
			var logs testenv.SyncBuffer
			cfg := ft.DefaultConfig()
			cfg.ID = "solo"
			cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "solo", Level: hclog.Debug, Output: &logs})
			promoted := make(chan struct{}, 1)
			e, err := ft.New(cfg, lock.Handle("solo"), bus.Beacon("solo"), ft.Callbacks{
				OnPromote: func(context.Context, ft.Epoch) error { promoted <- struct{}{}; return nil },
				OnDemote:  func(error) {},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			runErr := make(chan error, 1)
			go func() { runErr <- e.Run(ctx) }()
			time.Sleep(10 * time.Second)
			select {
			case err := <-runErr:
				t.Fatalf("Run ended on a fatal lock error: %v", err)
			default:
			}
			if s := e.Status(); !standingBy(s) || !errors.Is(s.LockError, ft.ErrLockFatal) {
				t.Fatalf("state = %s, lock error %v; want standby with the fatal error", s.State, s.LockError)
			}
			const line = "ft: error attempting to get the store lock: ft: fatal error getting the store lock: "
			if n := strings.Count(logs.String(), line); n < 2 || n > 6 || !strings.Contains(logs.String(), "/data") {
				t.Fatalf("%d lock error lines in 10s (want 2..6, rate limited, naming the path):\n%s", n, logs.String())
			}
			lock.Fail(nil)
			select {
			case <-promoted:
			case <-time.After(2 * cfg.MissedHeartbeatTimeout):
				t.Fatal("not promoted once the lock works")
			}
			if s := e.Status(); s.LockError != nil {
				t.Fatalf("lock error %v after acquiring", s.LockError)
			}
			cancel()
			if err := <-runErr; err != nil {
				t.Fatalf("Run = %v", err)
			}
			if err := e.Run(context.Background()); !errors.Is(err, ft.ErrAlreadyRunning) {
				t.Fatalf("second Run = %v", err)
			}
		})
	})
	t.Run("transient", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := fttest.NewGroup(t, 2, fttest.GroupOptions{})
			old := settle(t, g)
			g.Lock.Fail(errors.New("ENOLCK"))
			<-old.Done() // its check fails: fenced
			time.Sleep(5 * time.Second)
			if a := g.Active(); a != nil {
				t.Fatalf("%s active while the lock fails", a.ID)
			}
			g.Lock.Fail(nil)
			g.Lock.Expire()
			if _, ok := waitFor(time.Second, func() bool { return g.Active() != nil }); !ok {
				t.Fatal("no take-over after the lock recovered")
			}
			checkGroup(t, g)
		})
	})
}

func TestConfigValidation(t *testing.T) {
	valid := func() ft.Config {
		c := ft.DefaultConfig()
		c.ID = "m1"
		return c
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		field string
		mod   func(*ft.Config)
	}{
		{"ID", func(c *ft.Config) { c.ID = "" }},
		{"ID", func(c *ft.Config) { c.ID = "a b" }},
		{"ID", func(c *ft.Config) { c.ID = strings.Repeat("x", 257) }},
		{"HeartbeatInterval", func(c *ft.Config) { c.HeartbeatInterval = 0 }},
		{"HeartbeatInterval", func(c *ft.Config) { c.HeartbeatInterval = -time.Second }},
		{"MissedHeartbeatTimeout", func(c *ft.Config) { c.MissedHeartbeatTimeout = 0 }},
		{"MissedHeartbeatTimeout", func(c *ft.Config) {
			c.HeartbeatInterval = time.Second
			c.MissedHeartbeatTimeout = 1099 * time.Millisecond
		}},
		{"LockPollInterval", func(c *ft.Config) { c.LockPollInterval = 0 }},
		{"LockPollInterval", func(c *ft.Config) { c.LockPollInterval = 2 * time.Second }},
		{"LockCheckInterval", func(c *ft.Config) { c.LockCheckInterval = 0 }},
		{"LockCheckInterval", func(c *ft.Config) { c.LockCheckInterval = 2 * time.Second }},
		{"Jitter", func(c *ft.Config) { c.Jitter = -0.1 }},
		{"Jitter", func(c *ft.Config) { c.Jitter = 0.6 }},
	} {
		c := valid()
		tc.mod(&c)
		err := c.Validate()
		var ce *ft.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ft.ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v", tc.field, err)
		}
	}
	// Exactly 1.1 × is accepted.
	c := valid()
	c.HeartbeatInterval, c.MissedHeartbeatTimeout = time.Second, 1100*time.Millisecond
	if err := c.Validate(); err != nil {
		t.Fatalf("1.1×: %v", err)
	}

	lock, bus := fttest.NewMemLock(), fttest.NewBus()
	cb := ft.Callbacks{OnPromote: func(context.Context, ft.Epoch) error { return nil }, OnDemote: func(error) {}}
	for _, tc := range []struct {
		field string
		lock  ft.Lock
		b     ft.Beacon
		cb    ft.Callbacks
	}{
		{"Lock", nil, bus.Beacon("x"), cb},
		{"Beacon", lock.Handle("x"), nil, cb},
		{"Callbacks.OnPromote", lock.Handle("x"), bus.Beacon("x"), ft.Callbacks{OnDemote: cb.OnDemote}},
		{"Callbacks.OnDemote", lock.Handle("x"), bus.Beacon("x"), ft.Callbacks{OnPromote: cb.OnPromote}},
	} {
		_, err := ft.New(valid(), tc.lock, tc.b, tc.cb)
		var ce *ft.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%s: New = %v", tc.field, err)
		}
	}
	bad := valid()
	bad.ID = ""
	if _, err := ft.New(bad, lock.Handle("x"), bus.Beacon("x"), cb); !errors.Is(err, ft.ErrInvalidConfig) {
		t.Errorf("New with bad config = %v", err)
	}
}

// TestLockIsTheTruth: with every message lost or late, take-over after a
// kill or a step-down still happens within a lock poll.
func TestLockIsTheTruth(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(b *fttest.Bus)
	}{
		{"dropped", func(b *fttest.Bus) { b.Drop(true) }},
		{"delayed", func(b *fttest.Bus) { b.Delay(10 * time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := fttest.NewGroup(t, 3, fttest.GroupOptions{})
				old := settle(t, g)
				time.Sleep(500 * time.Millisecond)
				tc.fault(g.Bus)
				old.Elector.StepDown()
				var act *fttest.Member
				took, ok := waitFor(time.Second, func() bool { act = g.Active(); return act != nil && act != old })
				if !ok || took > ft.DefaultLockPollInterval+time.Millisecond {
					t.Fatalf("step-down without notice: take-over after %v (ok=%v)", took, ok)
				}
				time.Sleep(2 * time.Second)
				g.Kill(act.ID)
				took, ok = waitFor(time.Second, func() bool { a := g.Active(); return a != nil && a != act })
				if !ok || took > ft.DefaultLockPollInterval+time.Millisecond {
					t.Fatalf("kill without heartbeats: take-over after %v (ok=%v)", took, ok)
				}
				checkGroup(t, g)
			})
		})
	}
}

// TestDefaultTiming: SPEC §8.3's values are the defaults (D6 makes them
// configurable): a heartbeat every second ± 10 %, a missed interval of
// 1.25 s.
func TestDefaultTiming(t *testing.T) {
	c := ft.DefaultConfig()
	if c.HeartbeatInterval != time.Second || c.MissedHeartbeatTimeout != 1250*time.Millisecond || c.Jitter != 0.1 {
		t.Fatalf("defaults: heartbeat %v, missed %v, jitter %v; SPEC §8.3: 1s, 1.25s, 0.1",
			c.HeartbeatInterval, c.MissedHeartbeatTimeout, c.Jitter)
	}
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 1, fttest.GroupOptions{})
		settle(t, g)
		before := g.Bus.Sent()
		time.Sleep(20 * time.Second)
		// 20 s at one heartbeat per 0.9 to 1.1 s.
		if n := g.Bus.Sent() - before; n < 18 || n > 23 {
			t.Fatalf("%d heartbeats in 20s, want about 20", n)
		}
		checkGroup(t, g)
	})
}

// TestHeartbeatPublishErrorLine: an active that cannot publish its
// heartbeat logs the reference's line, `Unable to send FT heartbeat: <err>`
// (SPEC §8.6).
func TestHeartbeatPublishErrorLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs testenv.SyncBuffer
		g := fttest.NewGroup(t, 1, fttest.GroupOptions{Config: func(c *ft.Config) {
			c.Logger = hclog.New(&hclog.LoggerOptions{Name: c.ID, Level: hclog.Debug, Output: &logs})
		}})
		act := settle(t, g)
		g.Partition(act.ID)
		time.Sleep(1200 * time.Millisecond)
		if want := "Unable to send FT heartbeat: membeacon " + act.ID + ": ft: beacon not connected"; !strings.Contains(logs.String(), want) {
			t.Fatalf("no %q line:\n%s", want, logs.String())
		}
		g.Heal()
		checkGroup(t, g)
	})
}

// TestMetricsStandbyFromNew: the state metric reads "standby" from New on,
// as Status does, so a scrape before Run has started finds it (readiness
// only waits for Status).
func TestMetricsStandbyFromNew(t *testing.T) {
	rec := fttest.NewRecordingMetrics()
	cfg := ft.DefaultConfig()
	cfg.ID = "m"
	cfg.Metrics = rec
	noop := func(context.Context, ft.Epoch) error { return nil }
	e, err := ft.New(cfg, fttest.NewMemLock().Handle("m"), fttest.NewBus().Beacon("m"), ft.Callbacks{
		OnPromote: noop,
		OnDemote:  func(error) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.Status().State; st != ft.Standby {
		t.Fatalf("status %v before Run, want standby", st)
	}
	if got := rec.States(); !slices.Equal(got, []string{"standby"}) {
		t.Fatalf("reported states before Run %v, want [standby]", got)
	}
}

// TestHeldLockLine: the reference's `ft: unable to get store lock at this
// time, going back to standby` means heartbeats are missing yet the lock is
// held (SPEC §8.4: the reference tries the lock only after a missed interval
// without a message). A standby that hears the active's heartbeats logs no
// such line, however often it polls; once they stop while the lock stays
// held (a frozen active), it logs it, rate limited (SPEC §8.3).
func TestHeldLockLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lock := fttest.NewMemLock()
		epoch, err := lock.Handle("frozen").TryAcquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		bus := fttest.NewBus()
		other := bus.Beacon("frozen")
		var logs testenv.SyncBuffer
		cfg := ft.DefaultConfig()
		cfg.ID = "standby"
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "standby", Level: hclog.Debug, Output: &logs})
		e, err := ft.New(cfg, lock.Handle("standby"), bus.Beacon("standby"), ft.Callbacks{
			OnPromote: func(context.Context, ft.Epoch) error { return nil },
			OnDemote:  func(error) {},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		runErr := make(chan error, 1)
		go func() { runErr <- e.Run(ctx) }()
		stopped := false
		defer func() {
			if !stopped {
				cancel()
				<-runErr
			}
		}()
		hb, err := ft.Heartbeat{Kind: ft.KindHeartbeat, ServerID: "frozen", Epoch: epoch, State: ft.Active}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		const line = "ft: unable to get store lock at this time, going back to standby"
		for range 10 {
			if err := other.Publish(context.Background(), hb); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		if n := strings.Count(logs.String(), line); n != 0 {
			t.Fatalf("%d %q lines while the active's heartbeats arrive:\n%s", n, line, logs.String())
		}
		// The active freezes: no heartbeat, lock still held. The last one
		// came a second ago.
		time.Sleep(cfg.MissedHeartbeatTimeout + 100*time.Millisecond - time.Second)
		if n := strings.Count(logs.String(), line); n != 1 {
			t.Fatalf("%d %q lines a missed interval after the heartbeats stopped, want 1:\n%s", n, line, logs.String())
		}
		time.Sleep(10 * time.Second)
		// Rate limited: 1 s doubling (at about 0, 1, 3, 7 s).
		if n := strings.Count(logs.String(), line); n < 3 || n > 5 {
			t.Fatalf("%d %q lines in 11s without heartbeats, want 3..5 (rate limited):\n%s", n, line, logs.String())
		}
		if st := e.Status().State; st != ft.Standby && st != ft.Acquiring {
			t.Fatalf("state %s, want standby", st)
		}
		stopped = true
		cancel()
		if err := <-runErr; err != nil {
			t.Fatalf("Run = %v", err)
		}
	})
}

// TestTakeoverCountedWithoutHeartbeats: a member that found the lock held
// by another has seen another active even if no heartbeat reached it (it
// started just before the active stopped, or the heartbeats were lost), so
// its activation is a take-over and counts as a failover.
func TestTakeoverCountedWithoutHeartbeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := fttest.NewGroup(t, 2, fttest.GroupOptions{})
		g.Bus.Drop(true) // before any member runs: nobody ever hears anybody
		old := settle(t, g)
		time.Sleep(10 * ft.DefaultLockPollInterval) // the other finds the lock held
		g.Kill(old.ID)
		var act *fttest.Member
		if _, ok := waitFor(2*time.Second, func() bool { act = g.Active(); return act != nil && act != old }); !ok {
			t.Fatal("no take-over within 2s")
		}
		if f := act.Metrics.Failovers(); f != 1 {
			t.Fatalf("failovers = %d after taking over from a lock holder never heard, want 1", f)
		}
		if f := old.Metrics.Failovers(); f != 0 {
			t.Fatalf("first activation counted as failover: %d", f)
		}
	})
}
