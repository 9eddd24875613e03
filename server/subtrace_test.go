package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/stan.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/server"
)

// TestSubscriptionDebugLines: at debug level (-SD) every subscription
// creation, resumption and removal is logged with the reference's texts.
func TestSubscriptionDebugLines(t *testing.T) {
	var buf testenv.SyncBuffer
	_, url := start(t, func(c *server.Config) {
		c.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: &buf})
	})
	sc := connect(t, url, "me")
	waitLine := func(want string, suffix bool) {
		t.Helper()
		match := testenv.Contains(want)
		if suffix {
			match = func(l string) bool { return strings.HasSuffix(l, want) }
		}
		if !buf.WaitLine(2*time.Second, match) {
			t.Fatalf("no line with %q in\n%s", want, buf.String())
		}
	}
	starts := []struct {
		opt stan.SubscriptionOption
		txt string
	}{
		{stan.StartAt(pb.StartPosition_NewOnly), "new-only, seq=1"},
		{stan.StartWithLastReceived(), "last message, seq=1"},
		{stan.StartAtSequence(10), "from sequence, asked_seq=10 actual_seq=1"},
		{stan.StartAt(pb.StartPosition_First), "from beginning, seq=1"},
		{stan.StartAtTimeDelta(time.Hour), "seq=1"},
	}
	for _, o := range starts {
		sub, err := sc.Subscribe("foo", func(*stan.Msg) {}, o.opt)
		if err != nil {
			t.Fatal(err)
		}
		waitLine(o.txt, true)
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	waitLine("[Client:me] Started new subscription, subject=foo, inbox=_INBOX.", false)
	waitLine(", subid=1, sending new-only, seq=1", true)
	waitLine("sending from time time='", false)
	cb := func(*stan.Msg) {}
	steps := []struct {
		start      func() (stan.Subscription, error)
		startTrace string
		end        func(stan.Subscription) error
		endTrace   string
	}{
		{func() (stan.Subscription, error) { return sc.Subscribe("foo", cb) }, "Started new subscription",
			func(s stan.Subscription) error { return s.Unsubscribe() }, "Removed subscription"},
		{func() (stan.Subscription, error) { return sc.Subscribe("foo", cb, stan.DurableName("dur")) }, "Started new durable subscription",
			func(s stan.Subscription) error { return s.Close() }, "Suspended durable subscription"},
		{func() (stan.Subscription, error) { return sc.Subscribe("foo", cb, stan.DurableName("dur")) }, "Resumed durable subscription",
			func(s stan.Subscription) error { return s.Unsubscribe() }, "Removed durable subscription"},
		{func() (stan.Subscription, error) { return sc.QueueSubscribe("foo", "queue", cb) }, "Started new queue subscription",
			func(stan.Subscription) error { return nil }, ""},
		{func() (stan.Subscription, error) { return sc.QueueSubscribe("foo", "queue", cb) }, "Added member to queue subscription",
			func(s stan.Subscription) error { return s.Close() }, "Removed member from queue subscription"},
		{func() (stan.Subscription, error) { return sc.QueueSubscribe("foo", "queue2", cb) }, "Started new queue subscription",
			func(s stan.Subscription) error { return s.Unsubscribe() }, "Removed queue subscription"},
		{func() (stan.Subscription, error) {
			return sc.QueueSubscribe("foo", "queue", cb, stan.DurableName("dur"))
		}, "Started new durable queue subscription",
			func(s stan.Subscription) error { return s.Close() }, "Suspended durable queue subscription"},
		{func() (stan.Subscription, error) {
			return sc.QueueSubscribe("foo", "queue", cb, stan.DurableName("dur"))
		}, "Resumed durable queue subscription",
			func(stan.Subscription) error { return nil }, ""},
		{func() (stan.Subscription, error) {
			return sc.QueueSubscribe("foo", "queue", cb, stan.DurableName("dur"))
		}, "Added member to durable queue subscription",
			func(s stan.Subscription) error { return s.Unsubscribe() }, "Removed member from durable queue subscription"},
		{func() (stan.Subscription, error) {
			return sc.QueueSubscribe("foo", "queue2", cb, stan.DurableName("dur"))
		}, "Started new durable queue subscription",
			func(s stan.Subscription) error { return s.Unsubscribe() }, "Removed durable queue subscription"},
	}
	for _, st := range steps {
		sub, err := st.start()
		if err != nil {
			t.Fatal(err)
		}
		waitLine("[Client:me] "+st.startTrace, false)
		if err := st.end(sub); err != nil {
			t.Fatal(err)
		}
		if st.endTrace != "" {
			waitLine("[Client:me] "+st.endTrace, false)
		}
	}
	waitLine("Suspended durable queue subscription, subject=foo, inbox=_INBOX.", false)
	waitLine(" queue=dur:queue, subid=", false)
	waitLine(" durable=dur, subid=", false)
}
