package server_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/stan.go"
)

// Concurrent clients connect, publish, subscribe (plain, durable, queue,
// durable queue), ack or not, unsubscribe, close subscriptions and
// connections, while snapshots are taken. The server must not deadlock or
// race, and must keep serving.
func TestConcurrentChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s, url := start(t, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i%3)
				sc, err := stan.Connect(clusterID, id, stan.NatsURL(url), stan.ConnectWait(2*time.Second))
				if err != nil {
					continue // e.g. still registered: the probe rejects
				}
				var subs []stan.Subscription
				for j := 0; j < 3; j++ {
					ch := fmt.Sprintf("ch%d", r.IntN(3))
					opts := []stan.SubscriptionOption{stan.DeliverAllAvailable(), stan.MaxInflight(1 + r.IntN(5)), stan.AckWait(time.Second)}
					manual := r.IntN(2) == 0
					if manual {
						opts = append(opts, stan.SetManualAckMode())
					}
					h := func(m *stan.Msg) {
						if manual && m.Sequence%2 == 0 {
							_ = m.Ack()
						}
					}
					var sub stan.Subscription
					switch r.IntN(4) {
					case 0:
						sub, err = sc.Subscribe(ch, h, opts...)
					case 1:
						sub, err = sc.Subscribe(ch, h, append(opts, stan.DurableName("d"))...)
					case 2:
						sub, err = sc.QueueSubscribe(ch, "q", h, opts...)
					default:
						sub, err = sc.QueueSubscribe(ch, "q", h, append(opts, stan.DurableName("dq"))...)
					}
					if err == nil {
						subs = append(subs, sub)
					}
				}
				for j := 0; j < 20; j++ {
					_, _ = sc.PublishAsync(fmt.Sprintf("ch%d", r.IntN(3)), []byte("x"), nil)
				}
				_ = s.Serverz()
				for _, name := range s.ChannelNames() {
					s.Channel(name, true)
				}
				for _, id := range s.ClientIDs() {
					s.Client(id, true)
				}
				for _, sub := range subs {
					switch r.IntN(3) {
					case 0:
						_ = sub.Unsubscribe()
					case 1:
						_ = sub.Close()
					}
				}
				_ = sc.Close()
			}
		}(w)
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	// Still serving.
	sc := connect(t, url, "final")
	ch, h := msgChan(10)
	if _, err := sc.Subscribe("final", h); err != nil {
		t.Fatal(err)
	}
	publishN(t, sc, "final", 1)
	recv(t, ch, 2*time.Second)
}
