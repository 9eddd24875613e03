package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"
	"github.com/nats-io/stan.go/pb"
)

func TestPublishSyncAndAsync(t *testing.T) {
	s, url := start(t, nil)
	sc := connect(t, url, "pub")
	for i := 0; i < 10; i++ {
		if err := sc.Publish("foo", []byte("sync")); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		_, err := sc.PublishAsync("foo", []byte("async"), func(_ string, err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			wg.Done()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("async errors: %v", errs[0])
	}
	ch, ok := s.Channel("foo", false)
	if !ok || ch.Msgs != 1010 || ch.FirstSeq != 1 || ch.LastSeq != 1010 {
		t.Fatalf("channel = %+v %v", ch, ok)
	}
	z := s.Serverz()
	if z.InMsgs != 1010 || z.Channels != 1 || z.TotalMsgs != 1010 {
		t.Fatalf("serverz = %+v", z)
	}
}

func TestPublishErrors(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "pub")
	if err := sc.Publish("foo/bar", []byte("x")); err == nil || err.Error() != "stan: invalid publish request" {
		t.Fatalf("channel foo/bar: %v", err)
	}
	if err := sc.Publish("Foo.Bar", nil); err != nil {
		t.Fatal(err)
	}
	want := `rejecting channel "foo.bar" because channel "Foo.Bar" alreay exists (different cases not allowed)`
	if err := sc.Publish("foo.bar", nil); err == nil || err.Error() != want {
		t.Fatalf("case clash: %v", err)
	}

	nc := natsConn(t, url)
	ask := func(data []byte) pb.PubAck {
		t.Helper()
		msg, err := nc.Request("_STAN.pub."+clusterID+".foo", data, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var ack pb.PubAck
		if err := ack.Unmarshal(msg.Data); err != nil {
			t.Fatal(err)
		}
		return ack
	}
	for _, bad := range []string{"", ".foo", "foo.", "foo..bar", "foo/bar", "foo.*", "foo.>", ">"} {
		data, _ := (&pb.PubMsg{ClientID: "pub", Guid: "g", Subject: bad}).Marshal()
		if ack := ask(data); ack.Error != "stan: invalid publish request" {
			t.Fatalf("channel %q: %+v", bad, ack)
		}
	}
	if ack := ask([]byte{0xff, 0xff, 0xff}); ack.Error != "stan: invalid publish request" {
		t.Fatalf("garbage: %+v", ack)
	}
	noGUID, _ := (&pb.PubMsg{ClientID: "pub", Subject: "foo"}).Marshal()
	if ack := ask(noGUID); ack.Error != "stan: invalid publish request" {
		t.Fatalf("no guid: %+v", ack)
	}
	unknown, _ := (&pb.PubMsg{ClientID: "nobody", Guid: "g1", Subject: "foo"}).Marshal()
	if ack := ask(unknown); ack.Error != "stan: invalid publish request" || ack.Guid != "g1" {
		t.Fatalf("unknown client: %+v", ack)
	}
	staleConn, _ := (&pb.PubMsg{ClientID: "pub", ConnID: []byte("stale"), Guid: "g2", Subject: "foo"}).Marshal()
	if ack := ask(staleConn); ack.Error != "stan: invalid publish request" {
		t.Fatalf("stale conn: %+v", ack)
	}
	ok, _ := (&pb.PubMsg{ClientID: "pub", Guid: "g3", Subject: "foo", Data: []byte("hi")}).Marshal()
	if ack := ask(ok); ack.Error != "" || ack.Guid != "g3" {
		t.Fatalf("by client ID: %+v", ack)
	}
	// Empty publish without reply: ignored, server keeps working.
	_ = nc.Publish("_STAN.pub."+clusterID+".foo", nil)
	if err := sc.Publish("foo", []byte("still")); err != nil {
		t.Fatal(err)
	}
}

func TestPublishTooManyChannels(t *testing.T) {
	s, url := startWithLimits(t, func(l *limitsT) { l.MaxChannels = 2 })
	sc := connect(t, url, "pub")
	for _, ch := range []string{"a", "b"} {
		if err := sc.Publish(ch, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Publish("c", nil); err == nil || err.Error() != "too many channels" {
		t.Fatalf("third channel: %v", err)
	}
	sub, err := sc.Subscribe("d", func(*stan.Msg) {})
	if err == nil || err.Error() != "too many channels" {
		t.Fatalf("subscribe: %v %v", sub, err)
	}
	if n := len(s.ChannelNames()); n != 2 {
		t.Fatalf("channels = %d", n)
	}
}

func TestMessageContent(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "c")
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("foo", h); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UnixNano()
	if err := sc.Publish("foo", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	m := recv(t, ch, 2*time.Second)
	if string(m.Data) != "hello" || m.Subject != "foo" || m.Sequence != 1 || m.Redelivered ||
		m.Timestamp < before || m.Timestamp > time.Now().UnixNano() {
		t.Fatalf("message: %+v", m.MsgProto)
	}
	_ = nats.NewInbox
}

// TestTimestampsStrictlyIncrease: messages published together (one store
// batch) still get distinct, increasing timestamps, as with the
// reference's clock read per message.
func TestTimestampsStrictlyIncrease(t *testing.T) {
	_, url := start(t, nil)
	sc := connect(t, url, "ts")
	const n = 200
	acks := make(chan error, n)
	for i := range n {
		if _, err := sc.PublishAsync("ts", []byte{byte(i)}, func(_ string, err error) { acks <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		select {
		case err := <-acks:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("PubAcks missing")
		}
	}
	ch, h := msgChan(n)
	sub, err := sc.Subscribe("ts", h, stan.DeliverAllAvailable())
	if err != nil {
		t.Fatal(err)
	}
	var ts []int64
	for range n {
		ts = append(ts, recv(t, ch, 5*time.Second).Timestamp)
	}
	_ = sub.Unsubscribe()
	for i := 1; i < n; i++ {
		if ts[i] <= ts[i-1] {
			t.Fatalf("timestamp of seq %d (%d) not after seq %d's (%d)", i+1, ts[i], i, ts[i-1])
		}
	}
}
