package filestore

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stanft/stanft/store"
)

const crashChildEnv = "STANFT_FILESTORE_CRASH_CHILD"

// TestCrashChild is the child process of TestCrash; it does nothing unless
// started by it. It appends batches of messages to channel foo and prints
// "ACK <seq>" once the Flush holding seq returned, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestCrash")
	}
	cfg := DefaultConfig()
	cfg.SliceMaxMsgs = 700
	cfg.Limits = store.Limits{}
	s, err := Open(dir, cfg)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	rs, err := s.Recover(context.Background())
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	var ch *store.Channel
	if rs == nil {
		if err := s.Init(testInfo("crash")); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		if ch, err = s.CreateChannel("foo"); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
	} else {
		ch = rs.Channels["foo"].Channel
	}
	_, last, _ := ch.Msgs.FirstAndLastSequence()
	var subID uint64
	if rs != nil && len(rs.Channels["foo"].Subs) > 0 {
		subID = rs.Channels["foo"].Subs[0].Sub.ID
	} else {
		sub := &store.SubState{ClientID: "crash", Inbox: "in", IsDurable: true, DurableName: "d"}
		if err := ch.Subs.CreateSub(sub); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		subID = sub.ID
	}
	fmt.Println("READY", last)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	for seq := last + 1; ; {
		n := 1 + rng.IntN(40)
		for range n {
			if err := ch.Msgs.Store(testMsg("foo", seq)); err != nil {
				fmt.Println("ERR", err)
				os.Exit(2)
			}
			seq++
		}
		if err := ch.Msgs.Flush(); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Println("ACK", seq-1)
		// Deliver the batch to the durable: sent, then acked but the last.
		for q := seq - uint64(n); q < seq; q++ {
			_ = ch.Subs.AddSeqPending(subID, q)
			if q < seq-1 {
				_ = ch.Subs.AckSeqPending(subID, q)
			}
		}
		if err := ch.Subs.Flush(); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Println("SUBS", seq-uint64(n), seq-1)
		if rng.IntN(10) == 0 {
			id := "c" + strconv.FormatUint(seq, 10)
			if err := s.AddClient(&store.Client{ID: id}); err != nil {
				fmt.Println("ERR", err)
				os.Exit(2)
			}
			fmt.Println("CLIENT", id)
		}
	}
}

// TestCrash SIGKILLs a child process writing to the store at random points,
// many times, and checks after each that every acknowledged message and
// client registration is recovered, in order and intact.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	var acked, subsAcked uint64
	ackFlushed := map[uint64]bool{} // acks made durable by SubStore.Flush
	clients := map[string]bool{}
	for i := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		must(t, err)
		cmd.Stderr = os.Stderr
		must(t, cmd.Start())
		lines := make(chan string, 1024)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		killAt := time.NewTimer(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		ready := false
		deadline := time.NewTimer(30 * time.Second)
	loop:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break loop
				}
				f := strings.Fields(l)
				switch f[0] {
				case "READY":
					ready = true
					got, _ := strconv.ParseUint(f[1], 10, 64)
					if got < acked {
						t.Fatalf("iteration %d: child recovered last=%d; %d was acknowledged", i, got, acked)
					}
				case "ACK":
					acked, _ = strconv.ParseUint(f[1], 10, 64)
				case "SUBS":
					from, _ := strconv.ParseUint(f[1], 10, 64)
					subsAcked, _ = strconv.ParseUint(f[2], 10, 64)
					for q := from; q < subsAcked; q++ {
						ackFlushed[q] = true
					}
				case "CLIENT":
					clients[f[1]] = true
				default:
					t.Fatalf("iteration %d: child: %s", i, l)
				}
			case <-killAt.C:
				if !ready {
					killAt.Reset(10 * time.Millisecond)
					continue
				}
				_ = cmd.Process.Signal(syscall.SIGKILL)
			case <-deadline.C:
				_ = cmd.Process.Kill()
				t.Fatalf("iteration %d: child did not finish", i)
			}
		}
		wg.Wait()
		_ = cmd.Wait()
		killAt.Stop()
		deadline.Stop()
	}
	if acked == 0 {
		t.Fatal("the child never acknowledged a message")
	}
	rep, err := Verify(dir, testConfig(t))
	must(t, err)
	if !rep.Healthy() {
		t.Fatalf("Verify after crashes:\n%s", rep)
	}
	_, rs, err := recoverDir(t, dir, testConfig(t))
	must(t, err)
	ms := rs.Channels["foo"].Channel.Msgs
	_, last, err := ms.FirstAndLastSequence()
	must(t, err)
	if last < acked {
		t.Fatalf("recovered last %d < acknowledged %d", last, acked)
	}
	checkMsgs(t, ms, 1, last)
	subs := rs.Channels["foo"].Subs
	if len(subs) != 1 || subs[0].Sub.LastSent < subsAcked {
		t.Fatalf("recovered durable %+v; its sent records up to %d were flushed", subs[0].Sub, subsAcked)
	}
	for q := range subs[0].Pending {
		if ackFlushed[q] {
			t.Fatalf("sequence %d pending after recovery; its ack was flushed", q)
		}
	}
	got := map[string]bool{}
	for _, c := range rs.Clients {
		got[c.ID] = true
	}
	for id := range clients {
		if !got[id] {
			t.Fatalf("acknowledged client %s lost", id)
		}
	}
	t.Logf("20 kills: %d messages acknowledged, %d recovered, %d clients", acked, last, len(clients))
}
