package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestGarbageOnFTSubject: a stream of garbage and foreign messages on the
// group's FT subject (the reference resets its standby wait on any message, so
// garbage suppresses failover) must not keep a standby from taking over after
// SIGKILL of the active.
func TestGarbageOnFTSubject(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 2})
	const channel = "noisy"
	pub := s.publisher(channel, time.Millisecond)
	if err := pub.WaitAcks(200, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subject := "_STAN.ft." + s.g.ClusterID() + "." + s.g.FTGroup()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		payloads := [][]byte{nil, []byte("garbage"), {0x0a, 0x03, 'a', 'b', 'c'}, make([]byte, 4096)}
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			_ = nc.Publish(subject, payloads[i%len(payloads)])
		}
	}()
	defer func() { cancel(); wg.Wait() }()

	time.Sleep(500 * time.Millisecond) // the group lives with the noise
	if m, err := s.g.Active(); err != nil || m != s.g.Members[0] {
		t.Fatalf("garbage changed the active: %v, %v", m, err)
	}
	old := s.g.Members[0]
	killedAt := time.Now()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	next, err := s.g.WaitActive(10*time.Second, old)
	if err != nil {
		t.Fatalf("garbage on %s kept the standby from taking over: %v", subject, err)
	}
	before := pub.AckCount()
	if err := pub.WaitAcks(before+200, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	d, ok := OutageAfter(pub.Acks(), killedAt, 15*time.Second)
	if !ok {
		t.Fatal("no PubAck after the takeover")
	}
	t.Logf("with garbage on the FT subject: %s active, first PubAck %v after the kill", next.Name(), d.Round(time.Millisecond))
	// Default missed interval 1.25 s: a takeover that waited for the noise to
	// stop would not come before the test ends it.
	if d > 3*time.Second {
		t.Errorf("takeover took %v with garbage on the FT subject", d)
	}
	s.verify(pub, nil, channel, 1)
}
