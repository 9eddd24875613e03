package main

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/internal/testenv"
)

// running is a runServer call in a goroutine.
type running struct {
	cancel  context.CancelCauseFunc
	done    chan int
	url     string
	stderr  *testenv.SyncBuffer
	signals chan os.Signal
}

// startRun runs runServer with args and waits until it serves.
func startRun(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &running{cancel: cancel, done: make(chan int, 1), stderr: &testenv.SyncBuffer{}, signals: make(chan os.Signal, 1)}
	started := make(chan string, 1)
	env := serverEnv{
		Args: args, Stdout: r.stderr, Stderr: r.stderr, Signals: r.signals,
		Started: func(url string) { started <- url },
	}
	go func() { r.done <- runServer(ctx, env) }()
	t.Cleanup(func() {
		cancel(nil)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("runServer did not return")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", r.stderr.String())
		}
	})
	select {
	case r.url = <-started:
	case code := <-r.done:
		r.done <- code
		t.Fatalf("runServer exited with %d before serving; log:\n%s", code, r.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("server not started; log:\n%s", r.stderr.String())
	}
	return r
}

// stop cancels the run with cause and returns the exit code.
func (r *running) stop(t *testing.T, cause error) int {
	t.Helper()
	r.cancel(cause)
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("runServer did not return")
		return -1
	}
}

func TestRunSmokeMemoryStore(t *testing.T) {
	port := testenv.FreePort(t)
	r := startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-cid", "smoke")
	natsURL := "nats://127.0.0.1:" + strconv.Itoa(port)
	if r.url != natsURL {
		t.Fatalf("internal URL %q, want %q", r.url, natsURL)
	}
	sc, err := stan.Connect("smoke", "client-1", stan.NatsURL(natsURL), stan.ConnectWait(5*time.Second))
	if err != nil {
		t.Fatalf("stan connect: %v", err)
	}
	defer sc.Close()
	got := make(chan string, 10)
	sub, err := sc.Subscribe("foo", func(m *stan.Msg) { got <- string(m.Data) }, stan.DeliverAllAvailable())
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer sub.Unsubscribe()
	for i := 0; i < 3; i++ {
		if err := sc.Publish("foo", []byte("msg"+strconv.Itoa(i))); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	for i := 0; i < 3; i++ {
		select {
		case m := <-got:
			if want := "msg" + strconv.Itoa(i); m != want {
				t.Fatalf("got %q, want %q", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d not received", i)
		}
	}
	sc.Close()
	if code := r.stop(t, nil); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	log := r.stderr.String()
	for _, want := range []string{"Starting nats-streaming-server[smoke] version", "Git commit: [", "Message store is MEMORY", "ServerID: ", "Go version: ", "Streaming Server is ready", "Shutting down."} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestRunSIGTERMCauseExits143(t *testing.T) {
	port := testenv.FreePort(t)
	r := startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	if code := r.stop(t, shutdownSignal{sig: syscall.SIGTERM}); code != exitSIGTERM {
		t.Fatalf("exit code %d, want 143", code)
	}
}

func TestRunAuth(t *testing.T) {
	port := testenv.FreePort(t)
	r := startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "--user", "alice", "--pass", "s3cret", "-cid", "auth")
	_ = r
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	if nc, err := nats.Connect(url, nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Fatal("a client without credentials connected")
	}
	if _, err := stan.Connect("auth", "anon", stan.NatsURL(url), stan.ConnectWait(2*time.Second)); err == nil {
		t.Fatal("a STAN client without credentials connected")
	}
	sc, err := stan.Connect("auth", "alice", stan.NatsURL("nats://alice:s3cret@127.0.0.1:"+strconv.Itoa(port)), stan.ConnectWait(5*time.Second))
	if err != nil {
		t.Fatalf("stan connect with credentials: %v", err)
	}
	if err := sc.Publish("foo", []byte("x")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	sc.Close()
}

func TestRunNATSPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	var out testenv.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := runServer(ctx, serverEnv{Args: []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port)}, Stdout: &out, Stderr: &out})
	if code != exitFailure {
		t.Fatalf("exit code %d, want 1", code)
	}
	if !strings.Contains(out.String(), "Failed to start: ") {
		t.Fatalf("log lacks the startup failure:\n%s", out.String())
	}
}

func TestRunSecondStandaloneRefused(t *testing.T) {
	url := testenv.StartNATS(t)
	startRun(t, "-ns", url, "-cid", "dup")
	var out testenv.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := runServer(ctx, serverEnv{Args: []string{"-ns", url, "-cid", "dup"}, Stdout: &out, Stderr: &out})
	if code != exitFailure || !strings.Contains(out.String(), `discovered another streaming server with cluster ID "dup"`) {
		t.Fatalf("exit %d; log:\n%s", code, out.String())
	}
}

func TestRunRandomPort(t *testing.T) {
	r := startRun(t, "-a", "127.0.0.1", "-p", "-1", "-cid", "rnd")
	if !strings.HasPrefix(r.url, "nats://127.0.0.1:") || strings.HasSuffix(r.url, ":-1") || strings.HasSuffix(r.url, ":0") {
		t.Fatalf("internal URL %q", r.url)
	}
	sc := stanConnect(t, "rnd", "c", r.url, 5*time.Second)
	sc.Close()
}

func TestRunEntryPoint(t *testing.T) {
	port := testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var out testenv.SyncBuffer
	go func() {
		done <- run(ctx, []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-cid", "entry"}, &out, &out)
	}()
	stanConnect(t, "entry", "c", "nats://127.0.0.1:"+strconv.Itoa(port), 10*time.Second).Close()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return")
	}
}
