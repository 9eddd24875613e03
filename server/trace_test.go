package server_test

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/server"
)

// TestTraceLogsProtocol: at trace level (-SV) the server logs each
// publish, its PubAck, each delivery and redelivery and each ack with the
// reference's texts; below trace level it logs none of them.
func TestTraceLogsProtocol(t *testing.T) {
	for _, level := range []hclog.Level{hclog.Trace, hclog.Debug} {
		t.Run(level.String(), func(t *testing.T) {
			var buf testenv.SyncBuffer
			_, url := start(t, func(c *server.Config) {
				c.Logger = hclog.New(&hclog.LoggerOptions{Level: level, Output: &buf})
			})
			sc := connect(t, url, "tracer")
			got := make(chan *stan.Msg, 4)
			sub, err := sc.Subscribe("foo", func(m *stan.Msg) {
				if m.Redelivered {
					_ = m.Ack()
				}
				got <- m
			}, stan.SetManualAckMode(), stan.AckWait(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			if err := sc.Publish("foo", []byte("x")); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // the delivery, then its redelivery
				select {
				case <-got:
				case <-time.After(5 * time.Second):
					t.Fatal("no delivery")
				}
			}
			want := []string{
				`[Client:tracer] Received message from publisher subj=foo guid=`,
				`[Client:tracer] Acking Publisher subj=foo guid=`,
				`[Client:tracer] Delivering msg to subid=1, subject=foo, seq=1`,
				`[Client:tracer] Redelivering msg to subid=1, subject=foo, seq=1`,
				`[Client:tracer] Processing ack for subid=1, subject=foo, seq=1`,
			}
			wait := time.Duration(0) // the lines are absent at once below trace level
			if level == hclog.Trace {
				wait = 5 * time.Second
			}
			for _, w := range want {
				if has := buf.WaitLine(wait, testenv.Contains(w)); has != (level == hclog.Trace) {
					t.Errorf("level %s: line %q logged: %v", level, w, has)
				}
			}
		})
	}
}
