package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/ft/filelock"
	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/monitor"
)

// probe is a bounded GET that reports errors instead of failing the test,
// for polling an endpoint that may not listen yet (or from a goroutine).
func probe(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// firstActive is what a poller saw at the first 200 of isFTActive.
type firstActive struct {
	standbySeen bool   // isFTActive answered 204 before
	connectErr  error  // a STAN connect made right then
	channel     string // /streaming/channelsz?channel=... right after
	err         error  // the poll itself failed
}

// TestRunFTActiveOnlyAfterRecovery shows SPEC D8: isFTActive turns 200 only
// once the new active has recovered the datastore and serves clients.
func TestRunFTActiveOnlyAfterRecovery(t *testing.T) {
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	mb := testenv.FreePort(t)
	base := []string{"-ns", url, "-a", "127.0.0.1", "-cid", "rec", "-st", "FILE", "--dir", dir, "--ft_group", "grp",
		"--ft_hb_interval", "100ms", "--ft_hb_missed_interval", "400ms"}
	a := startRun(t, base...)
	sc := stanConnect(t, "rec", "pub", url, 10*time.Second)
	const n = 5
	for i := range n {
		if err := sc.Publish("ch", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	sc.Close()
	if code := a.stop(t, nil); code != 0 {
		t.Fatalf("A exit %d", code)
	}

	// Poll B's isFTActive every millisecond from before it starts; at the
	// first 200, connect at once and read the channel.
	mon := "http://127.0.0.1:" + strconv.Itoa(mb)
	seen := make(chan firstActive, 1)
	go func() {
		var res firstActive
		defer func() { seen <- res }()
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, _, err := probe(mon + monitor.IsFTActivePath)
			if err == nil && code == http.StatusOK {
				break
			}
			if err == nil && code == http.StatusNoContent {
				res.standbySeen = true
			}
			if time.Now().After(deadline) {
				res.err = fmt.Errorf("isFTActive not 200 within 20s (last %d, %v)", code, err)
				return
			}
			time.Sleep(time.Millisecond)
		}
		sc, err := stan.Connect("rec", "first", stan.NatsURL(url), stan.ConnectWait(500*time.Millisecond))
		if err != nil {
			res.connectErr = err
			return
		}
		sc.Close()
		_, res.channel, res.err = probe(mon + "/streaming/channelsz?channel=ch")
	}()
	b := startRun(t, append(base, "-m", strconv.Itoa(mb))...)
	var res firstActive
	select {
	case res = <-seen:
	case <-time.After(30 * time.Second):
		t.Fatal("poller did not finish")
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.connectErr != nil {
		t.Fatalf("isFTActive was 200 but a STAN connect failed: %v", res.connectErr)
	}
	var ch monitor.Channelz
	if err := json.Unmarshal([]byte(res.channel), &ch); err != nil {
		t.Fatalf("channelsz: %v: %s", err, res.channel)
	}
	if ch.Name != "ch" || ch.Msgs != n || ch.LastSeq != n {
		t.Errorf("at first isFTActive 200 the channel is %+v, want %d recovered messages", ch, n)
	}
	t.Logf("isFTActive answered 204 before 200: %v", res.standbySeen)

	log := b.stderr.String()
	order := []string{"Starting in standby mode", "Server is active", "Streaming Server is ready"}
	at := make([]int, len(order))
	for i, s := range order {
		at[i] = strings.Index(log, s)
		if at[i] < 0 {
			t.Fatalf("B's log lacks %q:\n%s", s, log)
		}
	}
	if !slices.IsSorted(at) {
		t.Errorf("B's log lines out of order (want %q), offsets %v:\n%s", order, at, log)
	}
}

// TestRunFTStandbyServesAndWritesNothing holds the datastore lock in the
// test: the member stands by, answers no client and writes nothing but the
// FT files; once the lock is released it becomes active.
func TestRunFTStandbyServesAndWritesNothing(t *testing.T) {
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	lock, err := filelock.New(filelock.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	held, err := lock.TryAcquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Release(context.Background()) })

	mp := testenv.FreePort(t)
	mon := "http://127.0.0.1:" + strconv.Itoa(mp)
	r := startRun(t, "-ns", url, "-a", "127.0.0.1", "-m", strconv.Itoa(mp), "-cid", "sb", "-st", "FILE", "--dir", dir,
		"--ft_group", "grp", "--ft_hb_interval", "100ms", "--ft_hb_missed_interval", "400ms")
	waitHTTP(t, mon+"/readyz", 200, 5*time.Second)
	// The member has tried the lock and found it held.
	waitFor(t, "a failed lock attempt", func() bool { return strings.Contains(r.stderr.String(), "unable to get store lock") })
	if code, body := httpGet(t, mon+monitor.IsFTActivePath); code != http.StatusNoContent {
		t.Fatalf("isFTActive: %d %s, want 204", code, body)
	}

	sc, err := stan.Connect("sb", "c1", stan.NatsURL(url), stan.ConnectWait(300*time.Millisecond))
	if err == nil {
		sc.Close()
		t.Fatal("a standby answered a STAN connect")
	}
	if !errors.Is(err, stan.ErrConnectReqTimeout) {
		t.Fatalf("connect to a standby: %v, want %v", err, stan.ErrConnectReqTimeout)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{filelock.EpochFileName, filelock.LockFileName}; !slices.Equal(names, want) {
		t.Fatalf("a standby's datastore holds %q, want only %q", names, want)
	}

	if err := lock.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, mon+monitor.IsFTActivePath, http.StatusOK, 5*time.Second)
	stanConnect(t, "sb", "c2", url, time.Second).Close()
	if e, err := filelock.ReadEpoch(dir); err != nil || e != held+1 {
		t.Fatalf("epoch %v, %v: want %d (the test held %d)", e, err, held+1, held)
	}
}
