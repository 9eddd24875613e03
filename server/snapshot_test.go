package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/server/servertest"
)

func TestSnapshotStandby(t *testing.T) {
	cfg := servertest.Config(t)
	cfg.ClusterID = "standby-cid"
	cfg.NATSURL = "nats://127.0.0.1:1"
	cfg.FT = true
	cfg.ServerID = "sid"
	cfg.Version = "1.2.3"
	st, _ := memstore.New(memstore.DefaultConfig())
	s, err := server.New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Serverz().State; got != server.StateStandalone {
		t.Fatalf("state before the FT setup: %q, want %q (SPEC §8.2)", got, server.StateStandalone)
	}
	s.SetState(server.StateStandby)
	z := s.Serverz()
	if z.ClusterID != "standby-cid" || z.State != server.StateStandby || z.ServerID != "sid" || z.Version != "1.2.3" ||
		z.Clients != 0 || z.Channels != 0 || z.Subscriptions != 0 {
		t.Fatalf("serverz: %+v", z)
	}
	if len(s.ClientIDs()) != 0 || len(s.ChannelNames()) != 0 {
		t.Fatal("lists not empty")
	}
	if _, ok := s.Client("x", true); ok {
		t.Fatal("client found")
	}
	// Only serverz shows the configured cluster ID on a standby (SPEC D8);
	// the list documents show the recovered one, "" before activation.
	if sz := s.Storez(); sz.Type != "MEMORY" || sz.Limits.MaxChannels != 100 || sz.ClusterID != "" {
		t.Fatalf("storez: %+v", sz)
	}
	if cid, sid := s.IDs(); cid != "" || sid != "sid" {
		t.Fatalf("IDs: %q %q, want \"\" \"sid\"", cid, sid)
	}
	s.SetState(server.StateActive)
	if s.Serverz().State != server.StateActive {
		t.Fatal("state")
	}
	// Deactivate and Close are safe when never activated.
	if err := s.Deactivate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(context.Background()); err == nil {
		t.Fatal("activate after close")
	}
}

func TestSnapshotActive(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "c")
	if _, err := sc.Subscribe("foo", func(*stan.Msg) {}); err != nil {
		t.Fatal(err)
	}
	d, err := sc.Subscribe("foo", func(*stan.Msg) {}, stan.DurableName("dur"))
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close() // offline durable still counts
	if _, err := sc.QueueSubscribe("foo", "g", func(*stan.Msg) {}, stan.DurableName("qd"), stan.MaxInflight(7)); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "foo", 4)
	publishN(t, sc, "bar", 1)
	waitFor(t, 2*time.Second, "out msgs", func() bool { return s.Serverz().OutMsgs == 8 })
	z := s.Serverz()
	if z.ClusterID != clusterID || z.Clients != 1 || z.Channels != 2 || z.Subscriptions != 3 ||
		z.TotalMsgs != 5 || z.InMsgs != 5 || z.State != server.StateStandalone || z.Uptime == "" {
		t.Fatalf("serverz: %+v", z)
	}
	cl, ok := s.Client("c", true)
	if !ok || cl.SubsCount != 2 || len(cl.Subscriptions["foo"]) != 2 {
		t.Fatalf("client: %+v", cl)
	}
	cz, ok := s.Channel("foo", true)
	if !ok || cz.Msgs != 4 || cz.SubsCount != 3 || len(cz.Subscriptions) != 3 {
		t.Fatalf("channel: %+v", cz)
	}
	for _, sz := range cz.Subscriptions {
		switch {
		case sz.DurableName == "dur":
			if !sz.IsOffline || !sz.IsDurable {
				t.Fatalf("durable: %+v", sz)
			}
		case sz.QueueName == "qd:g":
			if sz.MaxInflight != 7 || sz.LastSent != 4 || sz.AckWait != 30 || sz.ClientID != "c" {
				t.Fatalf("queue: %+v", sz)
			}
		default:
			if sz.LastSent != 4 || sz.IsOffline || sz.AckInbox == "" || sz.Inbox == "" {
				t.Fatalf("plain: %+v", sz)
			}
		}
	}
	if names := s.ChannelNames(); len(names) != 2 || names[0] != "bar" {
		t.Fatalf("names: %v", names)
	}
}
