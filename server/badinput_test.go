package server_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/server/servertest"
)

const liveClient = "live-client-7f3a9c"

// liveSetup starts a server with a well-behaved client that has a
// subscription, and returns the subjects to attack and a liveness check.
func liveSetup(t testing.TB) (nc *nats.Conn, subjects []string, check func(testing.TB)) {
	cfg := servertest.Config(t)
	cfg.ClusterID = clusterID
	s, url := servertest.StartServer(t, cfg)
	sc, err := stan.Connect(clusterID, liveClient, stan.NatsURL(url))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = sc.Close() })
	ch := make(chan *stan.Msg, 1024)
	if _, err := sc.Subscribe("live", func(m *stan.Msg) { ch <- m }, stan.SetManualAckMode()); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	cz, _ := s.Channel("live", true)
	ackInbox := cz.Subscriptions[0].AckInbox
	nc, err = nats.Connect(url)
	if err != nil {
		t.Fatalf("nats: %v", err)
	}
	t.Cleanup(nc.Close)
	subjects = []string{
		"_STAN.discover." + clusterID,
		"_STAN.discover." + clusterID + ".pings",
		"_STAN.pub." + clusterID + ".live",
		"_STAN.sub." + clusterID,
		"_STAN.unsub." + clusterID,
		"_STAN.subclose." + clusterID,
		"_STAN.close." + clusterID,
		ackInbox,
	}
	check = func(t testing.TB) {
		if err := sc.Publish("live", []byte("ok")); err != nil {
			t.Fatalf("live client publish: %v", err)
		}
		select {
		case m := <-ch:
			_ = m.Ack()
		case <-time.After(5 * time.Second):
			t.Fatal("live client got no message")
		}
	}
	return nc, subjects, check
}

func badPayloads() [][]byte {
	connect, _ := (&pb.ConnectRequest{ClientID: "x", HeartbeatInbox: "hb"}).Marshal()
	sub, _ := (&pb.SubscriptionRequest{ClientID: "someone", Subject: "live", MaxInFlight: -1, AckWaitInSecs: -5}).Marshal()
	ack, _ := (&pb.Ack{Subject: "live", Sequence: 1 << 62}).Marshal()
	pub, _ := (&pb.PubMsg{ClientID: "someone", Guid: "g", Subject: "a..b"}).Marshal()
	unsub, _ := (&pb.UnsubscribeRequest{ClientID: "someone", Subject: "live"}).Marshal()
	huge := make([]byte, 64*1024)
	for i := range huge {
		huge[i] = 0xff
	}
	return [][]byte{
		nil, {}, {0x00}, {0xff}, {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, {0x08, 0x80, 0x80, 0x80},
		[]byte("PING\r\n"), []byte("\x12\x05hello"), connect, sub, ack, pub, unsub, huge,
	}
}

func TestBadInputEverywhere(t *testing.T) {
	nc, subjects, check := liveSetup(t)
	for _, subj := range subjects {
		for _, p := range badPayloads() {
			// With and without a reply subject.
			_ = nc.PublishRequest(subj, nats.NewInbox(), p)
			_ = nc.Publish(subj, p)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	check(t)
	// Where there is a reply subject, the sender gets the SPEC error.
	want := map[int]string{0: "stan: invalid connection request", 3: "stan: invalid subscription request",
		4: "stan: invalid unsubscribe request", 5: "stan: invalid unsubscribe request", 6: "stan: invalid close request"}
	for i, text := range want {
		msg, err := nc.Request(subjects[i], []byte{0xff, 0xff}, 2*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", subjects[i], err)
		}
		var got string
		switch i {
		case 0:
			var r pb.ConnectResponse
			_ = r.Unmarshal(msg.Data)
			got = r.Error
		case 6:
			var r pb.CloseResponse
			_ = r.Unmarshal(msg.Data)
			got = r.Error
		default:
			var r pb.SubscriptionResponse
			_ = r.Unmarshal(msg.Data)
			got = r.Error
		}
		if got != text {
			t.Fatalf("%s: %q want %q", subjects[i], got, text)
		}
	}
	msg, err := nc.Request(subjects[2], []byte{0xff, 0xff}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var pa pb.PubAck
	if _ = pa.Unmarshal(msg.Data); pa.Error != "stan: invalid publish request" {
		t.Fatalf("pub: %q", pa.Error)
	}
	check(t)
}

// FuzzProtocol sends arbitrary bytes to every subject the server listens
// on; the server must neither crash nor stall a well-behaved client.
func FuzzProtocol(f *testing.F) {
	for i := 0; i < 8; i++ {
		for _, p := range badPayloads() {
			f.Add(uint8(i), p)
		}
	}
	nc, subjects, check := liveSetup(f)
	n := 0
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		subj := subjects[int(which)%len(subjects)]
		if err := nc.PublishRequest(subj, nats.NewInbox(), data); err != nil {
			t.Skip("payload too large for NATS")
		}
		n++
		if n%16 == 0 {
			check(t)
		}
	})
}
