package e2e

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stanft/stanft/ft"
)

// TestHeartbeatTiming: on the group's subject _STAN.ft.<cid>.<grp> only the
// active sends heartbeats, one per interval ± 10 % (SPEC §8.3, §8.6 step 2):
// 1 s by default, the --ft_hb_interval value when given (SPEC D6). A standby
// sends nothing there.
func TestHeartbeatTiming(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		interval time.Duration
		listen   time.Duration
	}{
		{"default", nil, time.Second, 6 * time.Second},
		{"flags", []string{"--ft_hb_interval", "200ms", "--ft_hb_missed_interval", "500ms"}, 200 * time.Millisecond, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, scenarioOpts{members: 2, extraArgs: tc.args})
			active, err := s.g.Members[0].Serverz()
			if err != nil {
				t.Fatal(err)
			}
			nc, err := nats.Connect(s.nats)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			var mu sync.Mutex
			var at []time.Time
			var others []string
			sub, err := nc.Subscribe("_STAN.ft."+s.g.ClusterID()+"."+s.g.FTGroup(), func(m *nats.Msg) {
				now := time.Now()
				h, err := ft.DecodeHeartbeat(m.Data)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					others = append(others, "undecodable: "+err.Error())
				case h.ServerID != active.ServerID || h.Kind != ft.KindHeartbeat:
					others = append(others, h.Kind.String()+" from "+h.ServerID)
				default:
					at = append(at, now)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(tc.listen)
			_ = sub.Unsubscribe()
			mu.Lock()
			defer mu.Unlock()
			if len(others) > 0 {
				t.Errorf("messages on the FT subject from others than the active's heartbeats: %q", others)
			}
			want := int(tc.listen / tc.interval)
			if len(at) < want*8/10 || len(at) > want+1 {
				t.Errorf("%d heartbeats in %v, want about %d (one per %v)", len(at), tc.listen, want, tc.interval)
			}
			// ± 10 % jitter, plus a scheduling margin on a loaded machine
			// (a late delivery shortens the next gap as seen here).
			lo, hi := tc.interval*9/10-50*time.Millisecond, tc.interval*11/10+100*time.Millisecond
			for i := 1; i < len(at); i++ {
				if d := at[i].Sub(at[i-1]); d < lo || d > hi {
					t.Errorf("heartbeat %d came %v after the previous one, want %v ± 10%%", i, d, tc.interval)
				}
			}
		})
	}
}
