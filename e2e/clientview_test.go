package e2e

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	stan "github.com/nats-io/stan.go"
)

// TestClientViewOfFailover: SPEC §8.8 with the plain stan.go client (its
// defaults, but PINGs every second and 3 misses allowed, so that a new
// active that does not answer the session's PINGs, or answers that the
// client is unknown, closes the session within the test): across a SIGKILL
// or a SIGTERM of the active, the same connection keeps publishing, its
// durable subscription keeps receiving, the message it had not acked is
// redelivered by the new active with redelivered=true (ack wait 2 s: SPEC
// §7.4, its deadline is its timestamp + ack wait), and nothing acknowledged
// is lost.
func TestClientViewOfFailover(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*Member) error
	}{
		{"SIGKILL", func(m *Member) error { return m.Kill() }},
		{"SIGTERM", func(m *Member) error { _, err := m.Stop(15 * time.Second); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, scenarioOpts{members: 2})
			var lostMu sync.Mutex
			var lost error
			sc, err := stan.Connect(s.cid, "app", stan.NatsURL(s.nats), stan.Pings(1, 3),
				stan.SetConnectionLostHandler(func(_ stan.Conn, err error) {
					lostMu.Lock()
					lost = err
					lostMu.Unlock()
				}))
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			type got struct {
				seq         uint64
				data        string
				redelivered bool
				at          time.Time
			}
			var mu sync.Mutex
			var msgs []got
			ackFirst := false // the first message stays unacked
			_, err = sc.Subscribe("cv", func(m *stan.Msg) {
				mu.Lock()
				msgs = append(msgs, got{m.Sequence, string(m.Data), m.Redelivered, time.Now()})
				ack := ackFirst || m.Sequence != 1
				mu.Unlock()
				if ack {
					_ = m.Ack()
				}
			}, stan.DurableName("d"), stan.SetManualAckMode(), stan.AckWait(2*time.Second), stan.DeliverAllAvailable())
			if err != nil {
				t.Fatal(err)
			}
			var acked []string
			for _, d := range []string{"m1", "m2", "m3"} {
				if err := sc.Publish("cv", []byte(d)); err != nil {
					t.Fatal(err)
				}
				acked = append(acked, d)
			}
			waitMsgs := func(pred func([]got) bool, what string) {
				t.Helper()
				for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					mu.Lock()
					ok := pred(msgs)
					snapshot := append([]got(nil), msgs...)
					mu.Unlock()
					if ok {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: received %+v", what, snapshot)
					}
				}
			}
			waitMsgs(func(ms []got) bool { return len(ms) >= 3 }, "before the failover")
			mu.Lock()
			ackFirst = true
			mu.Unlock()

			old := s.g.Members[0]
			if err := tc.stop(old); err != nil {
				t.Fatal(err)
			}
			if _, err := s.g.WaitActive(15*time.Second, old); err != nil {
				t.Fatal(err)
			}
			activeAt := time.Now()
			// The same connection publishes again (a publish in the gap may
			// time out: retry, as an application does).
			for _, d := range []string{"m4", "m5"} {
				for deadline := time.Now().Add(15 * time.Second); ; {
					done := make(chan error, 1)
					_, err := sc.PublishAsync("cv", []byte(d), func(_ string, err error) { done <- err })
					if err == nil {
						select {
						case err = <-done:
						case <-time.After(2 * time.Second):
							err = stan.ErrTimeout
						}
					}
					if err == nil {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("publish %s after the failover: %v", d, err)
					}
				}
				acked = append(acked, d)
			}
			// Every acknowledged message reaches the durable; the unacked
			// first one comes back redelivered.
			waitMsgs(func(ms []got) bool {
				seen := map[string]bool{}
				re := false
				for _, m := range ms {
					seen[m.data] = true
					re = re || (m.seq == 1 && m.redelivered && m.at.After(activeAt))
				}
				for _, d := range acked {
					if !seen[d] {
						return false
					}
				}
				return re
			}, "after the failover: every acked message, and seq 1 redelivered by the new active")
			// The session lives on: several PINGs answered by the new active.
			time.Sleep(5 * time.Second)
			lostMu.Lock()
			err = lost
			lostMu.Unlock()
			if err != nil {
				t.Fatalf("the STAN session was lost after the failover: %v", err)
			}
			if sc.NatsConn().Status() != nats.CONNECTED {
				t.Fatalf("NATS connection %v", sc.NatsConn().Status())
			}
			if err := sc.Publish("cv", []byte("m6")); err != nil {
				t.Fatalf("publish 5 s after the failover: %v", err)
			}
		})
	}
}
