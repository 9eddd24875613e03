package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The framework's own tests: they need only the natsd binary.

func TestProcessLifecycle(t *testing.T) {
	p, url := StartNATS(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()

	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if _, err := nats.Connect(url, nats.Timeout(300*time.Millisecond)); err == nil {
		t.Error("connected to a paused NATS server")
	}
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	code, err := p.Stop(5 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("Stop: code %d, %v; want 0 (natsd exits 0 on SIGTERM)", code, err)
	}
	if err := p.Pause(); err == nil {
		t.Error("Pause of an exited process succeeded")
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitLog("natsd: ready", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err == nil {
		t.Error("second Start of a running process succeeded")
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if code, ok := p.ExitCode(); !ok || code != 137 {
		t.Errorf("exit code after SIGKILL: %d %v, want 137", code, ok)
	}
	if n := p.CountLog("natsd: ready"); n != 2 {
		t.Errorf("ready lines over two runs: %d, want 2", n)
	}
	if _, err := p.WaitLog("never printed", 50*time.Millisecond); err == nil {
		t.Error("WaitLog matched a line that was never printed")
	}
	if !strings.Contains(p.Logs(), "exited: 137") {
		t.Error("log has no exit marker")
	}
}

func TestProxyBlock(t *testing.T) {
	_, url := StartNATS(t)
	px := NewProxy(t, hostPort(url))
	disc := make(chan struct{}, 4)
	reco := make(chan struct{}, 4)
	nc, err := nats.Connect(px.URL(),
		nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { disc <- struct{}{} }),
		nats.ReconnectHandler(func(*nats.Conn) { reco <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	px.Block()
	select {
	case <-disc:
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect after Block")
	}
	// Blocked: reconnects keep failing.
	select {
	case <-reco:
		t.Fatal("reconnected through a blocked proxy")
	case <-time.After(300 * time.Millisecond):
	}
	px.Unblock()
	select {
	case <-reco:
	case <-time.After(5 * time.Second):
		t.Fatal("no reconnect after Unblock")
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestChecks(t *testing.T) {
	acks := []Ack{{ID: 1, Attempts: 1}, {ID: 2, Attempts: 1}, {ID: 3, Attempts: 2}, {ID: 4, Attempts: 1}}
	good := []Delivery{{Seq: 1, ID: 1}, {Seq: 2, ID: 2}, {Seq: 3, ID: 4}, {Seq: 4, ID: 3}, {Seq: 5, ID: 3}}
	r, err := CheckNoAckedLoss(History{Acks: acks, Stored: good})
	if err != nil || r.Duplicated != 1 {
		t.Errorf("good history: %+v, %v", r, err)
	}
	if err := CheckPublishOrder(History{Acks: acks, Stored: good}); err != nil {
		t.Errorf("good order: %v", err)
	}
	for name, stored := range map[string][]Delivery{
		"lost":     {{Seq: 1, ID: 1}, {Seq: 2, ID: 2}, {Seq: 3, ID: 4}},
		"conflict": {{Seq: 1, ID: 1}, {Seq: 2, ID: 2}, {Seq: 2, ID: 9}, {Seq: 3, ID: 3}, {Seq: 4, ID: 4}},
		"hole":     {{Seq: 1, ID: 1}, {Seq: 2, ID: 2}, {Seq: 4, ID: 3}, {Seq: 5, ID: 4}},
	} {
		if _, err := CheckNoAckedLoss(History{Acks: acks, Stored: stored}); err == nil {
			t.Errorf("%s: not detected", name)
		}
	}
	swapped := []Delivery{{Seq: 1, ID: 2}, {Seq: 2, ID: 1}}
	if err := CheckPublishOrder(History{Acks: acks, Stored: swapped}); err == nil {
		t.Error("order violation not detected")
	}
	if err := CheckDeliveryOrder([]Delivery{{Seq: 1}, {Seq: 2}, {Seq: 1, Redelivered: true}, {Seq: 3}}, 0); err != nil {
		t.Errorf("delivery order with a redelivery: %v", err)
	}
	if err := CheckDeliveryOrder([]Delivery{{Seq: 1}, {Seq: 2}, {Seq: 2}}, 0); err == nil {
		t.Error("sequence delivered twice as new not detected")
	}
	if err := CheckDeliveryOrder([]Delivery{{Seq: 1}, {Seq: 2}, {Seq: 2}, {Seq: 3}}, 1); err != nil {
		t.Errorf("one restart allowed: %v", err)
	}
	if err := CheckDeliveryOrder([]Delivery{{Seq: 1}, {Seq: 2}, {Seq: 2}, {Seq: 3}, {Seq: 3}}, 1); err == nil {
		t.Error("a second restart not detected")
	}
	t0 := time.Now()
	late := []Delivery{{Seq: 1, At: t0}, {Seq: 2, At: t0}, {Seq: 1, At: t0.Add(time.Second)}, {Seq: 3, At: t0.Add(2 * time.Second)}}
	if err := CheckDeliveryOrder(late, 0, Window{From: t0.Add(time.Second / 2), To: t0.Add(3 * time.Second / 2)}); err != nil {
		t.Errorf("out-of-order delivery in an excused window: %v", err)
	}
	if err := CheckDeliveryOrder(late, 0, Window{From: t0.Add(3 * time.Second / 2), To: t0.Add(3 * time.Second)}); err == nil {
		t.Error("out-of-order delivery outside the excused window not detected")
	}
	if err := CheckDurableResume(10, []Delivery{{Seq: 11}, {Seq: 12}}); err != nil {
		t.Error(err)
	}
	if err := CheckDurableResume(10, []Delivery{{Seq: 1}, {Seq: 11}}); err == nil {
		t.Error("durable restarting from the beginning not detected")
	}
	if err := CheckDurableResume(10, []Delivery{{Seq: 12}}); err == nil {
		t.Error("durable skipping a sequence not detected")
	}
	ackAt := func(ms ...int) []Ack {
		var out []Ack
		for _, m := range ms {
			out = append(out, Ack{Acked: t0.Add(time.Duration(m) * time.Millisecond)})
		}
		return out
	}
	if d, ok := OutageAfter(ackAt(-5, 1, 2, 300, 301, 302), t0, time.Second); !ok || d != 300*time.Millisecond {
		t.Errorf("outage %v %v, want 300ms", d, ok)
	}
}

func TestWatcherSingleActive(t *testing.T) {
	w := &StateWatcher{}
	t0 := time.Now()
	at := func(m, startMs, endMs int, st string) StateSample {
		return StateSample{Member: m, Start: t0.Add(time.Duration(startMs) * time.Millisecond), End: t0.Add(time.Duration(endMs) * time.Millisecond), State: st}
	}
	// A hand-off seen from both sides once is tolerated.
	w.samples = []StateSample{at(0, 0, 5, StateActive), at(1, 1, 6, StateActive), at(0, 20, 25, StateStandby), at(1, 21, 26, StateActive)}
	if err := w.CheckSingleActive(); err != nil {
		t.Error(err)
	}
	w.samples = append(w.samples, at(0, 40, 45, StateActive), at(1, 41, 46, StateActive))
	if err := w.CheckSingleActive(); err == nil {
		t.Error("double active in two polls not detected")
	}
}

// TestWatcherSeesTwoActives shows that the single-active check can fail on
// real processes: two one-member groups on separate datastores (a
// misconfiguration) are both active, and a watcher over both must say so.
func TestWatcherSeesTwoActives(t *testing.T) {
	requireStanft(t)
	cid := clusterIDFor(t)
	a := StartGroup(t, GroupConfig{Bin: stanftBin, NATSURL: sharedURL, Members: 1, ClusterID: cid + "-a", FTGroup: "a"})
	b := StartGroup(t, GroupConfig{Bin: stanftBin, NATSURL: sharedURL, Members: 1, ClusterID: cid + "-b", FTGroup: "b"})
	b.Members[0].Index = 1
	both := &Group{t: t, cfg: a.cfg, Members: []*Member{a.Members[0], b.Members[0]}}
	if _, err := both.Active(); err == nil {
		t.Error("Group.Active did not report two active members")
	}
	w := WatchStates(both, 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	w.Stop()
	if err := w.CheckSingleActive(); err == nil {
		t.Errorf("two active members not detected (%d samples)", len(w.Samples()))
	}
}

func TestProxyBlackhole(t *testing.T) {
	_, url := StartNATS(t)
	px := NewProxy(t, hostPort(url))
	nc, err := nats.Connect(px.URL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.FlushTimeout(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	px.Blackhole()
	if err := nc.FlushTimeout(300 * time.Millisecond); err == nil {
		t.Fatal("a flush went through a blackholed proxy")
	}
	if !nc.IsConnected() {
		t.Error("a blackhole closed the connection")
	}
	px.Unblock()
	if err := nc.FlushTimeout(2 * time.Second); err != nil {
		t.Fatalf("flush after Unblock: %v", err)
	}
}
