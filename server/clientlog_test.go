package server_test

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/stan.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/server"
)

// TestClientLifecycleLogs: at debug level (-SD) client connects, duplicate
// rejections and closes are logged with the reference's texts, and a
// heartbeat timeout is an error.
func TestClientLifecycleLogs(t *testing.T) {
	var buf testenv.SyncBuffer
	_, url := start(t, func(c *server.Config) {
		c.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: &buf})
		c.ClientHBInterval = 50 * time.Millisecond
		c.ClientHBTimeout = 50 * time.Millisecond
		c.ClientHBFailCount = 1
	})
	sc, err := stan.Connect(clusterID, "logged", stan.NatsURL(url))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stan.Connect(clusterID, "logged", stan.NatsURL(url)); err == nil {
		t.Fatal("duplicate accepted")
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	nc := natsConn(t, url)
	req := pb.ConnectRequest{ClientID: "ghost", HeartbeatInbox: "_INBOX.ghosthb", Protocol: 1, ConnID: []byte("g")}
	b, _ := req.Marshal()
	if _, err := nc.Request("_STAN.discover."+clusterID, b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`[DEBUG] server: [Client:logged] Connected (Inbox=_INBOX.`,
		`[DEBUG] server: [Client:logged] Connect failed; already connected`,
		`[DEBUG] server: [Client:logged] Closed (Inbox=_INBOX.`,
		`[ERROR] server: [Client:ghost] Timed out on heartbeats`,
	}
	for _, w := range want {
		if !buf.WaitLine(5*time.Second, testenv.Contains(w)) {
			t.Errorf("line %q not logged:\n%s", w, buf.String())
		}
	}
}
