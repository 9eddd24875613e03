package server_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/stan.go"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/server"
	"github.com/stanft/stanft/server/servertest"
	"github.com/stanft/stanft/store"
)

// failingStore is a memory store whose message flushes fail on demand.
type failingStore struct {
	*memstore.Store
	fail atomic.Bool
}

type failingMsgs struct {
	store.MsgStore
	fail *atomic.Bool
}

func (f *failingStore) CreateChannel(name string) (*store.Channel, error) {
	c, err := f.Store.CreateChannel(name)
	if err != nil {
		return nil, err
	}
	return &store.Channel{Msgs: &failingMsgs{MsgStore: c.Msgs, fail: &f.fail}, Subs: c.Subs}, nil
}

func (m *failingMsgs) Flush() error {
	if m.fail.Load() {
		return errors.New("disk on fire")
	}
	return m.MsgStore.Flush()
}

func (m *failingMsgs) Store(msg *pb.MsgProto) error { return m.MsgStore.Store(msg) }

func TestStoreFailureIsFatal(t *testing.T) {
	ms, _ := memstore.New(memstore.DefaultConfig())
	fs := &failingStore{Store: ms}
	fatal := make(chan error, 2)
	cfg := servertest.Config(t)
	cfg.ClusterID = clusterID
	cfg.OnFatal = func(err error) { fatal <- err }
	s, url := servertest.StartServerWithStore(t, cfg, fs)
	t.Cleanup(func() { fs.fail.Store(false) }) // runs before the server's Close
	sc := connect(t, url, "c", stan.PubAckWait(500*time.Millisecond))
	if err := sc.Publish("foo", nil); err != nil {
		t.Fatal(err)
	}
	fs.fail.Store(true)
	if err := sc.Publish("foo", nil); err == nil || err.Error() != "stan: publish ack timeout" {
		t.Fatalf("publish with failing store: %v", err)
	}
	select {
	case err := <-fatal:
		if err == nil {
			t.Fatal("nil fatal error")
		}
	case <-time.After(time.Second):
		t.Fatal("OnFatal not called")
	}
	if s.State() != server.StateFailed {
		t.Fatalf("state %s", s.State())
	}
	_ = sc.Publish("foo", nil)
	if len(fatal) != 0 {
		t.Fatal("OnFatal called twice")
	}
}
