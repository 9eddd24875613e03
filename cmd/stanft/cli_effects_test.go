package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/internal/testenv"
)

// Black-box checks of SPEC §10.1: the built binary runs with the flags, and
// the real stan.go client observes their effect.

// procServer is a stanft process on loopback with monitoring.
type procServer struct {
	url, mon string
}

func startProcServer(t *testing.T, args ...string) procServer {
	t.Helper()
	port, mport := testenv.FreePort(t), testenv.FreePort(t)
	all := append([]string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(mport)}, args...)
	startProcess(t, all...)
	return procServer{url: "nats://127.0.0.1:" + strconv.Itoa(port), mon: "http://127.0.0.1:" + strconv.Itoa(mport)}
}

func (s procServer) connect(t *testing.T, cid, client string, opts ...stan.Option) stan.Conn {
	t.Helper()
	opts = append([]stan.Option{stan.NatsURL(s.url), stan.ConnectWait(5 * time.Second)}, opts...)
	sc, err := stan.Connect(cid, client, opts...)
	if err != nil {
		t.Fatalf("connect %s/%s: %v", cid, client, err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}

func (s procServer) json(t *testing.T, path string, v any) {
	t.Helper()
	code, body := httpGet(t, s.mon+path)
	if code != 200 {
		t.Fatalf("%s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%s: %v: %s", path, err, body)
	}
}

type channelzLite struct {
	Name     string `json:"name"`
	Msgs     int    `json:"msgs"`
	Bytes    uint64 `json:"bytes"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

// TestProcessLimitFlagsTakeEffect: -mc, --max_subs, -mm, --max_bytes with a
// size suffix, --max_age and -mi with duration values, each observed with
// stan.go.
func TestProcessLimitFlagsTakeEffect(t *testing.T) {
	s := startProcServer(t, "-cid", "lim", "-mc", "2", "--max_subs", "1", "-mm", "3", "--max_bytes=1KB")
	sc := s.connect(t, "lim", "c1")
	for i := 0; i < 5; i++ {
		if err := sc.Publish("a", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	var cz channelzLite
	s.json(t, "/streaming/channelsz?channel=a", &cz)
	if cz.Msgs != 3 || cz.FirstSeq != 3 || cz.LastSeq != 5 {
		t.Fatalf("-mm 3: channel a = %+v", cz)
	}
	// --max_bytes=1KB is 1024 bytes: 100-byte payloads, at most 1024 bytes kept.
	big := make([]byte, 100)
	for i := 0; i < 20; i++ {
		if err := sc.Publish("b", big); err != nil {
			t.Fatal(err)
		}
	}
	s.json(t, "/streaming/channelsz?channel=b", &cz)
	if cz.Bytes > 1024 || cz.Msgs < 1 || cz.Msgs >= 10 {
		t.Fatalf("--max_bytes=1KB: channel b = %+v", cz)
	}
	if err := sc.Publish("c", []byte("x")); err == nil || !strings.Contains(err.Error(), "too many channels") {
		t.Fatalf("-mc 2: third channel: %v", err)
	}
	sub, err := sc.Subscribe("a", func(*stan.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if _, err := sc.Subscribe("a", func(*stan.Msg) {}); err == nil || !strings.Contains(err.Error(), "too many subscriptions per channel") {
		t.Fatalf("--max_subs 1: second subscription: %v", err)
	}
}

func TestProcessAgeAndInactivityFlags(t *testing.T) {
	s := startProcServer(t, "--cid", "age", "--ma", "1s", "--max_inactivity=1s")
	sc := s.connect(t, "age", "c1")
	if err := sc.Publish("old", []byte("x")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var names struct {
			Names []string `json:"names"`
		}
		s.json(t, "/streaming/channelsz", &names)
		if len(names.Names) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("--max_inactivity=1s: channels still %v", names.Names)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// --ma 1s: a message expires while a subscription keeps the channel.
	sub, err := sc.Subscribe("kept", func(*stan.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := sc.Publish("kept", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for {
		var cz channelzLite
		s.json(t, "/streaming/channelsz?channel=kept", &cz)
		if cz.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("--ma 1s: channel kept = %+v", cz)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestProcessHeartbeatFlags: -hbi/-hbt/-hbf close a client whose
// connection is gone (SPEC §2.3); --hb_fail_count etc. are the long names.
func TestProcessHeartbeatFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-hbi", "200ms", "-hbt", "100ms", "-hbf", "1"},
		{"--hb_interval=200ms", "--hb_timeout", "100ms", "--hb_fail_count=1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			s := startProcServer(t, append([]string{"-cid", "hb"}, args...)...)
			nc, err := nats.Connect(s.url)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stan.Connect("hb", "gone", stan.NatsConn(nc), stan.ConnectWait(5*time.Second)); err != nil {
				t.Fatal(err)
			}
			type clientsz struct {
				Total int `json:"total"`
			}
			var cs clientsz
			s.json(t, "/streaming/clientsz", &cs)
			if cs.Total != 1 {
				t.Fatalf("clients %d", cs.Total)
			}
			nc.Close() // no close request: only heartbeats can notice
			start := time.Now()
			for {
				cs = clientsz{}
				s.json(t, "/streaming/clientsz", &cs)
				if cs.Total == 0 {
					break
				}
				if time.Since(start) > 5*time.Second {
					t.Fatal("client not closed after missed heartbeats")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
