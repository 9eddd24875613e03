package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/server/servertest"
)

func TestConnectResponseFields(t *testing.T) {
	_, url := start(t, nil)
	nc := natsConn(t, url)
	req := pb.ConnectRequest{ClientID: "me", HeartbeatInbox: nats.NewInbox(), Protocol: 1,
		ConnID: []byte("conn1"), PingInterval: 7, PingMaxOut: 9}
	b, _ := req.Marshal()
	msg, err := nc.Request("_STAN.discover."+clusterID, b, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var resp pb.ConnectResponse
	if err := resp.Unmarshal(msg.Data); err != nil {
		t.Fatal(err)
	}
	want := pb.ConnectResponse{
		PubPrefix: "_STAN.pub." + clusterID, SubRequests: "_STAN.sub." + clusterID,
		UnsubRequests: "_STAN.unsub." + clusterID, CloseRequests: "_STAN.close." + clusterID,
		SubCloseRequests: "_STAN.subclose." + clusterID, PingRequests: "_STAN.discover." + clusterID + ".pings",
		PingInterval: 7, PingMaxOut: 9, Protocol: 1,
	}
	if resp != want {
		t.Fatalf("response\n got %+v\nwant %+v", resp, want)
	}
	// Protocol 0: no ping fields.
	req = pb.ConnectRequest{ClientID: "old", HeartbeatInbox: nats.NewInbox()}
	b, _ = req.Marshal()
	msg, err = nc.Request("_STAN.discover."+clusterID, b, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp = pb.ConnectResponse{}
	_ = resp.Unmarshal(msg.Data)
	if resp.PingRequests != "" || resp.PingInterval != 0 || resp.Protocol != 1 || resp.Error != "" {
		t.Fatalf("protocol 0 response: %+v", resp)
	}
}

func TestConnectAndClose(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c1")
	if got := s.ClientIDs(); len(got) != 1 || got[0] != "c1" {
		t.Fatalf("clients = %v", got)
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	if got := s.ClientIDs(); len(got) != 0 {
		t.Fatalf("clients after close = %v", got)
	}
	// The ID can be reused at once.
	connect(t, url, "c1")
}

func TestConnectErrors(t *testing.T) {
	_, url := start(t, nil)
	nc := natsConn(t, url)
	ask := func(data []byte) string {
		t.Helper()
		msg, err := nc.Request("_STAN.discover."+clusterID, data, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var resp pb.ConnectResponse
		if err := resp.Unmarshal(msg.Data); err != nil {
			t.Fatal(err)
		}
		return resp.Error
	}
	if got := ask([]byte("garbage\xff\xff")); got != "stan: invalid connection request" {
		t.Fatalf("garbage: %q", got)
	}
	noHB, _ := (&pb.ConnectRequest{ClientID: "x"}).Marshal()
	if got := ask(noHB); got != "stan: invalid connection request" {
		t.Fatalf("no hb inbox: %q", got)
	}
	_, err := stan.Connect(clusterID, "bad id!", stan.NatsURL(url))
	if err == nil || err.Error() != "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed" {
		t.Fatalf("bad id: %v", err)
	}
	_, err = stan.Connect("other-cluster", "c", stan.NatsURL(url), stan.ConnectWait(300*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "connect request timeout") {
		t.Fatalf("wrong cluster: %v", err)
	}
}

func TestDuplicateClientID(t *testing.T) {
	s, url := start(t, nil)
	connect(t, url, "dup")
	start := time.Now()
	_, err := stan.Connect(clusterID, "dup", stan.NatsURL(url))
	if err == nil || err.Error() != "stan: clientID already registered" {
		t.Fatalf("duplicate: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("probe took %v", time.Since(start))
	}

	// A registered client that no longer answers is replaced.
	nc := natsConn(t, url)
	req := pb.ConnectRequest{ClientID: "ghost", HeartbeatInbox: nats.NewInbox(), Protocol: 1, ConnID: []byte("g1")}
	b, _ := req.Marshal()
	if _, err := nc.Request("_STAN.discover."+clusterID, b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	sc := connect(t, url, "ghost")
	if err := sc.Publish("foo", []byte("x")); err != nil {
		t.Fatalf("publish after replace: %v", err)
	}
	if got := len(s.ClientIDs()); got != 2 {
		t.Fatalf("clients = %d", got)
	}
}

func TestPingReplaced(t *testing.T) {
	_, url := start(t, nil)
	lost := make(chan error, 1)
	connect(t, url, "pinger", stan.Pings(1, 3), stan.SetConnectionLostHandler(func(_ stan.Conn, err error) {
		lost <- err
	}))
	// Close the client's registration behind its back.
	nc := natsConn(t, url)
	b, _ := (&pb.CloseRequest{ClientID: "pinger"}).Marshal()
	msg, err := nc.Request("_STAN.close."+clusterID, b, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var cr pb.CloseResponse
	if err := cr.Unmarshal(msg.Data); err != nil || cr.Error != "" {
		t.Fatalf("close: %v %q", err, cr.Error)
	}
	select {
	case err := <-lost:
		if !strings.Contains(err.Error(), "replaced") {
			t.Fatalf("lost: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("connection not lost")
	}
	// A raw ping for an unknown connection, and garbage (no answer).
	pb1, _ := (&pb.Ping{ConnID: []byte("nope")}).Marshal()
	msg, err = nc.Request("_STAN.discover."+clusterID+".pings", pb1, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var pr pb.PingResponse
	if err := pr.Unmarshal(msg.Data); err != nil || pr.Error != "client has been replaced or is no longer registered" {
		t.Fatalf("ping response: %v %q", err, pr.Error)
	}
	if _, err := nc.Request("_STAN.discover."+clusterID+".pings", []byte{0xff, 0x01}, 200*time.Millisecond); err == nil {
		t.Fatal("garbage ping answered")
	}
}

func TestPingOK(t *testing.T) {
	_, url := start(t, nil)
	nc := natsConn(t, url)
	req := pb.ConnectRequest{ClientID: "raw", HeartbeatInbox: nats.NewInbox(), Protocol: 1, ConnID: []byte("raw1")}
	b, _ := req.Marshal()
	if _, err := nc.Request("_STAN.discover."+clusterID, b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	pingData, _ := (&pb.Ping{ConnID: []byte("raw1")}).Marshal()
	msg, err := nc.Request("_STAN.discover."+clusterID+".pings", pingData, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Data) != 0 {
		t.Fatalf("ping response %q, want empty", msg.Data)
	}
}

func TestServerHeartbeatTimeout(t *testing.T) {
	s, url := start(t, func(c *server.Config) {
		c.ClientHBInterval = 50 * time.Millisecond
		c.ClientHBTimeout = 50 * time.Millisecond
		c.ClientHBFailCount = 2
	})
	live := connect(t, url, "live")
	nc := natsConn(t, url)
	req := pb.ConnectRequest{ClientID: "dead", HeartbeatInbox: nats.NewInbox(), Protocol: 1, ConnID: []byte("d1")}
	b, _ := req.Marshal()
	if _, err := nc.Request("_STAN.discover."+clusterID, b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "dead client removed", func() bool {
		ids := s.ClientIDs()
		return len(ids) == 1 && ids[0] == "live"
	})
	time.Sleep(300 * time.Millisecond)
	if ids := s.ClientIDs(); len(ids) != 1 {
		t.Fatalf("clients = %v", ids)
	}
	if err := live.Publish("foo", nil); err != nil {
		t.Fatal(err)
	}
}

func TestStandaloneProbe(t *testing.T) {
	_, url := start(t, nil)
	cfg := servertest.Config(t)
	cfg.ClusterID = clusterID
	cfg.NATSURL = url
	st, _ := memstore.New(memstore.DefaultConfig())
	s2, err := server.New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	err = s2.Activate(context.Background())
	if err == nil || err.Error() != `discovered another streaming server with cluster ID "test-cluster"` {
		t.Fatalf("activate: %v", err)
	}
	// FT members skip the probe.
	cfg.FT = true
	s3, _ := server.New(cfg, st)
	defer s3.Close()
	if err := s3.Activate(context.Background()); err != nil {
		t.Fatalf("FT activate: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := server.DefaultConfig()
	if _, err := server.New(cfg, nil); !errors.Is(err, server.ErrInvalidConfig) {
		t.Fatalf("no url: %v", err)
	}
	cfg.NATSURL = "nats://127.0.0.1:1"
	cfg.ClusterID = "bad id"
	if _, err := server.New(cfg, nil); !errors.Is(err, server.ErrInvalidConfig) {
		t.Fatalf("bad cluster id: %v", err)
	}
	cfg = server.DefaultConfig()
	cfg.NATSURL = "nats://127.0.0.1:1"
	cfg.IOBatchSize = 0
	if err := cfg.Validate(); !errors.Is(err, server.ErrInvalidConfig) {
		t.Fatalf("batch: %v", err)
	}
}
