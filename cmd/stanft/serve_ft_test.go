package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/drill"
	"github.com/stanft/stanft/ft"
	"github.com/stanft/stanft/ft/filelock"
	"github.com/stanft/stanft/ft/natsbeacon"
	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/memstore"
	"github.com/stanft/stanft/monitor"
	"github.com/stanft/stanft/server"
)

// stanConnect connects a client, retrying until deadline (a standby answers
// no connect request).
func stanConnect(t *testing.T, cid, client, url string, within time.Duration) stan.Conn {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		sc, err := stan.Connect(cid, client, stan.NatsURL(url), stan.ConnectWait(500*time.Millisecond))
		if err == nil {
			return sc
		}
		if time.Now().After(deadline) {
			t.Fatalf("stan connect %s: %v", client, err)
		}
	}
}

// receiveAll subscribes from the start and returns the first n payloads.
func receiveAll(t *testing.T, sc stan.Conn, channel string, n int) []string {
	t.Helper()
	got := make(chan string, n)
	sub, err := sc.Subscribe(channel, func(m *stan.Msg) { got <- string(m.Data) }, stan.DeliverAllAvailable())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var out []string
	for len(out) < n {
		select {
		case m := <-got:
			out = append(out, m)
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d of %d messages: %v", len(out), n, out)
		}
	}
	return out
}

func TestRunFileStoreRecovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	port := testenv.FreePort(t)
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-cid", "filec", "-st", "FILE", "--dir", dir}
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	r := startRun(t, args...)
	sc := stanConnect(t, "filec", "c1", url, 5*time.Second)
	for i := 0; i < 5; i++ {
		if err := sc.Publish("ch", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	sc.Close()
	if code := r.stop(t, nil); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(r.stderr.String(), "Store location: "+dir) {
		t.Errorf("no store location line")
	}
	// store verify reports a healthy datastore.
	var out testenv.SyncBuffer
	if code := run(context.Background(), []string{"store", "verify", dir}, &out, &out); code != 0 {
		t.Fatalf("store verify: exit %d\n%s", code, out.String())
	}
	r = startRun(t, args...)
	sc = stanConnect(t, "filec", "c2", url, 5*time.Second)
	defer sc.Close()
	if got := receiveAll(t, sc, "ch", 5); strings.Join(got, ",") != "0,1,2,3,4" {
		t.Fatalf("recovered %v", got)
	}
}

func TestRunFTFailover(t *testing.T) {
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	args := []string{"-ns", url, "-cid", "ftc", "-st", "FILE", "--dir", dir, "--ft_group", "grp",
		"--ft_hb_interval", "100ms", "--ft_hb_missed_interval", "400ms"}
	a := startRun(t, args...)
	sc := stanConnect(t, "ftc", "pub1", url, 10*time.Second)
	for i := 0; i < 3; i++ {
		if err := sc.Publish("ch", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	sc.Close()
	b := startRun(t, args...)
	if !strings.Contains(a.stderr.String(), "Server is active") {
		t.Fatalf("A is not active:\n%s", a.stderr.String())
	}
	// Graceful stop of the active: B takes over.
	if code := a.stop(t, nil); code != 0 {
		t.Fatalf("A exit %d", code)
	}
	sc = stanConnect(t, "ftc", "pub2", url, 10*time.Second)
	defer sc.Close()
	if err := sc.Publish("ch", []byte("3")); err != nil {
		t.Fatal(err)
	}
	if got := receiveAll(t, sc, "ch", 4); strings.Join(got, ",") != "0,1,2,3" {
		t.Fatalf("after failover: %v", got)
	}
	if !strings.Contains(b.stderr.String(), "Server is active") {
		t.Fatalf("B is not active:\n%s", b.stderr.String())
	}
	if e, err := filelock.ReadEpoch(dir); err != nil || e < 2 {
		t.Fatalf("epoch %v, %v: want >= 2 after a failover", e, err)
	}
}

func TestRunFTClusterIDMismatch(t *testing.T) {
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	r := startRun(t, "-ns", url, "-cid", "one", "-st", "FILE", "--dir", dir)
	r.stop(t, nil)
	var out testenv.SyncBuffer
	code := runServer(context.Background(), serverEnv{Args: []string{"-ns", url, "-cid", "two", "-st", "FILE", "--dir", dir, "--ft_group", "g"},
		Stdout: io.Discard, Stderr: &out})
	if code != exitFailure || !strings.Contains(out.String(), `Failed to start: cluster ID "two" does not match recovered value of "one"`+"\n") {
		t.Fatalf("exit %d, log:\n%s", code, out.String())
	}
}

func TestRunFTStepDownCommand(t *testing.T) {
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	args := []string{"-ns", url, "-cid", "sdc", "-st", "FILE", "--dir", dir, "--ft_group", "grp",
		"--ft_hb_interval", "100ms", "--ft_hb_missed_interval", "400ms"}
	a := startRun(t, args...)
	stanConnect(t, "sdc", "probe", url, 10*time.Second).Close() // A serves
	b := startRun(t, args...)
	var out testenv.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := run(ctx, []string{"ft", "step-down", "--nats", url, "-cid", "sdc", "--ft_group", "grp", "--timeout", "15s"}, &out, &out)
	if code != 0 {
		t.Fatalf("step-down: exit %d\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "stepped down") || !strings.Contains(out.String(), "is active") {
		t.Fatalf("step-down output:\n%s", out.String())
	}
	waitFor(t, "B active", func() bool { return strings.Contains(b.stderr.String(), "Server is active") })
	// A stays up as a standby; both stop cleanly.
	if code := a.stop(t, nil); code != 0 {
		t.Fatalf("A exit %d", code)
	}
	if code := b.stop(t, nil); code != 0 {
		t.Fatalf("B exit %d", code)
	}
}

func TestRunFTFencedExitsNonZero(t *testing.T) {
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	a := startRun(t, "-ns", url, "-cid", "fence", "-st", "FILE", "--dir", dir, "--ft_group", "grp",
		"--ft_hb_interval", "100ms", "--ft_hb_missed_interval", "400ms")
	stanConnect(t, "fence", "probe", url, 10*time.Second).Close() // active
	// Replace the lock file behind the active's back: its next lock check
	// fails and it must stop serving and exit non-zero.
	lockPath := filepath.Join(dir, filelock.LockFileName)
	if err := os.Rename(lockPath, lockPath+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-a.done:
		a.done <- code
		if code != exitFailure {
			t.Fatalf("exit %d, want 1", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the fenced active did not exit; log:\n%s", a.stderr.String())
	}
	if !strings.Contains(a.stderr.String(), "ft: stopping: ") {
		t.Fatalf("no fencing line:\n%s", a.stderr.String())
	}
}

func TestRunDrillCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("drill runs a few seconds")
	}
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	ma, mb := testenv.FreePort(t), testenv.FreePort(t)
	base := []string{"-ns", url, "-a", "127.0.0.1", "-cid", "drillc", "-st", "FILE", "--dir", dir, "--ft_group", "grp",
		"--ft_hb_interval", "100ms", "--ft_hb_missed_interval", "400ms"}
	startRun(t, append(base, "-m", strconv.Itoa(ma))...)
	stanConnect(t, "drillc", "probe", url, 10*time.Second).Close()
	startRun(t, append(base, "-m", strconv.Itoa(mb))...)
	members := fmt.Sprintf("http://127.0.0.1:%d,http://127.0.0.1:%d", ma, mb)
	var out, errOut testenv.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, []string{"drill", "--nats", url, "-cid", "drillc", "--ft_group", "grp", "--members", members,
		"--warmup", "500ms", "--settle", "500ms", "--rate", "100", "--pub_ack_wait", "1s", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("drill: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	t.Logf("drill report:\n%s", out.String())
	var rep drill.Report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("drill --json: %v", err)
	}
	if rep.Lost != 0 || rep.Acknowledged == 0 || rep.Delivered < rep.Acknowledged {
		t.Errorf("drill lost %d of %d acknowledged (delivered %d)", rep.Lost, rep.Acknowledged, rep.Delivered)
	}
	if rep.Before.Epoch == 0 || rep.After.Epoch <= rep.Before.Epoch || rep.After.URL == rep.Before.URL {
		t.Errorf("active before %+v, after %+v: want another member with a higher epoch", rep.Before, rep.After)
	}
}

func TestRunFTMonitorHealth(t *testing.T) {
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	ma, mb := testenv.FreePort(t), testenv.FreePort(t)
	base := []string{"-ns", url, "-a", "127.0.0.1", "-cid", "hc", "-st", "FILE", "--dir", dir, "--ft_group", "grp",
		"--ft_hb_interval", "100ms", "--ft_hb_missed_interval", "400ms"}
	startRun(t, append(base, "-m", strconv.Itoa(ma))...)
	// The active has a client and a channel; the standby must show neither.
	sc := stanConnect(t, "hc", "probe", url, 10*time.Second)
	defer sc.Close()
	if err := sc.Publish("ch", []byte("m")); err != nil {
		t.Fatal(err)
	}
	startRun(t, append(base, "-m", strconv.Itoa(mb))...)
	active := "http://127.0.0.1:" + strconv.Itoa(ma)
	standby := "http://127.0.0.1:" + strconv.Itoa(mb)
	checks := []struct {
		url  string
		code int
	}{
		{active + "/healthz", 200},
		{active + "/readyz", 200},
		{active + "/readyz?role=active", 200},
		{active + "/streaming/isFTActive", 200},
		{standby + "/healthz", 200},
		{standby + "/readyz", 200},
		{standby + "/readyz?role=active", 503},
		{standby + "/streaming/isFTActive", 204},
	}
	for _, c := range checks {
		if code, body := httpGet(t, c.url); code != c.code {
			t.Errorf("%s: %d, want %d: %s", c.url, code, c.code, body)
		}
	}
	if _, body := httpGet(t, standby+"/streaming/storez"); !strings.Contains(body, `"FILE"`) {
		t.Errorf("standby storez: %s", body)
	}
	// SPEC D8: a standby's serverz shows its configured cluster ID.
	code, body := httpGet(t, standby+"/streaming/serverz")
	var sz monitor.Serverz
	if err := json.Unmarshal([]byte(body), &sz); code != 200 || err != nil {
		t.Fatalf("standby serverz: %d, %v: %s", code, err, body)
	}
	if sz.ClusterID != "hc" || sz.State != "FT_STANDBY" {
		t.Errorf("standby serverz: cluster_id %q state %q, want \"hc\" FT_STANDBY", sz.ClusterID, sz.State)
	}
	// A standby knows no clients and no channels.
	for _, path := range []string{"/streaming/clientsz", "/streaming/channelsz"} {
		code, body := httpGet(t, standby+path)
		var list struct {
			Total *int `json:"total"`
		}
		if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || list.Total == nil || *list.Total != 0 {
			t.Errorf("standby %s: %d, %v: %s; want 200 with total 0", path, code, err, body)
		}
	}
}

func TestRunFileStoreExclusive(t *testing.T) {
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	startRun(t, "-ns", url, "-cid", "excl1", "-st", "FILE", "--dir", dir)
	var out testenv.SyncBuffer
	code := runServer(context.Background(), serverEnv{Args: []string{"-ns", url, "-cid", "excl2", "-st", "FILE", "--dir", dir},
		Stdout: io.Discard, Stderr: &out})
	if code != exitFailure || !strings.Contains(out.String(), "is in use by another server") {
		t.Fatalf("exit %d; log:\n%s", code, out.String())
	}
}

// TestRunFTNATSUnreachableAtStart: as the reference (SPEC §8.4 step 1
// opens the NATS connections before standing by; §10.4), an FT member whose
// NATS server does not answer at startup fails to start and exits 1, as a
// standalone server does, instead of standing by unconnected.
func TestRunFTNATSUnreachableAtStart(t *testing.T) {
	url := "nats://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) // nothing listens
	var out testenv.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	code := runServer(ctx, serverEnv{Args: []string{"-ns", url, "-cid", "unreach", "-st", "FILE", "--dir", t.TempDir(), "--ft_group", "g"},
		Stdout: io.Discard, Stderr: &out})
	if ctx.Err() != nil {
		t.Fatalf("still running after 15s; log:\n%s", out.String())
	}
	log := out.String()
	if code != exitFailure || !strings.Contains(log, "Failed to start: ") || !strings.Contains(log, "no servers available for connection") {
		t.Fatalf("exit %d, log:\n%s", code, log)
	}
	if strings.Contains(log, "Starting in standby mode") {
		t.Fatalf("stood by without NATS:\n%s", log)
	}
}

// TestRunFTDualActiveLoserExits2: an active that hears another member claim
// to be active with a newer epoch stands down (SPEC D6) and, as the
// reference's dual-active loser (SPEC §8.6, §10.4), exits 2 after the
// reference's line `ft: serverID "<id>" claims to be active, aborting`.
func TestRunFTDualActiveLoserExits2(t *testing.T) {
	url := testenv.StartNATS(t)
	dir := t.TempDir()
	a := startRun(t, "-ns", url, "-cid", "dual", "-st", "FILE", "--dir", dir, "--ft_group", "grp",
		"--ft_hb_interval", "100ms", "--ft_hb_missed_interval", "400ms")
	stanConnect(t, "dual", "probe", url, 10*time.Second).Close() // A serves
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hb, err := ft.Heartbeat{Kind: ft.KindHeartbeat, ServerID: "other-active", Epoch: 1000, State: ft.Active,
		ActiveSince: time.Now()}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(natsbeacon.Subject("dual", "grp"), hb); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-a.done:
		a.done <- code
		if code != 2 {
			t.Fatalf("exit %d, want 2; log:\n%s", code, a.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the active did not stand down; log:\n%s", a.stderr.String())
	}
	if !strings.Contains(a.stderr.String(), `ft: serverID "other-active" claims to be active, aborting`) {
		t.Fatalf("no dual-active line:\n%s", a.stderr.String())
	}
}

// TestActiveExit: the dual-active loser exits 2 whichever error carries the
// news (SPEC §10.4); a lost lock or a failed store alone exits 1.
func TestActiveExit(t *testing.T) {
	aee := &ft.ActiveElsewhereError{ServerID: "x", Epoch: 2, OurEpoch: 1}
	storeFenced := fmt.Errorf("server: flush: filestore: fenced off: %w", ft.ErrLockLost)
	for _, c := range []struct {
		errs []error
		want int
	}{
		{[]error{fmt.Errorf("%w: %w", ft.ErrFenced, aee)}, exitDualActive},
		{[]error{fmt.Errorf("%w: %w", ft.ErrFenced, aee), storeFenced}, exitDualActive},
		{[]error{nil, fmt.Errorf("%w: %w", ft.ErrFenced, aee)}, exitDualActive},
		{[]error{fmt.Errorf("%w: %w", ft.ErrFenced, ft.ErrLockLost), storeFenced}, exitFailure},
		{[]error{storeFenced}, exitFailure},
	} {
		if got := activeExit(c.errs...); got != c.want {
			t.Errorf("activeExit(%v) = %d, want %d", c.errs, got, c.want)
		}
	}
}

// TestFTDemoteState: the serverz state a demotion leaves (SPEC §8.2,
// §10.4): SHUTDOWN when the member stops gracefully (never FT_STANDBY on
// the way out), FAILED when it stops after a fatal error, was fenced or its
// promotion failed (it is about to exit), FT_STANDBY only after a step-down
// or a NATS loss, when it stands by again.
func TestFTDemoteState(t *testing.T) {
	for _, c := range []struct {
		reason error
		want   string
		fatal  bool // stopping after a fatal error (store failure, NATS fatal)
	}{
		{ft.ErrStopping, server.StateShutdown, false},
		{ft.ErrStopping, server.StateFailed, true},
		{ft.ErrSteppedDown, server.StateStandby, false},
		{ft.ErrDisconnected, server.StateStandby, false},
		{fmt.Errorf("wrapped: %w", ft.ErrLockLost), server.StateFailed, false},
		{&ft.ActiveElsewhereError{ServerID: "x", Epoch: 3, OurEpoch: 2}, server.StateFailed, false},
		{errors.New("open the store: corrupt"), server.StateFailed, false},
	} {
		ms, err := memstore.New(memstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := server.DefaultConfig()
		cfg.NATSURL, cfg.FT = "nats://127.0.0.1:1", true
		srv, err := server.New(cfg, ms)
		if err != nil {
			t.Fatal(err)
		}
		srv.SetState(server.StateActive)
		m := &ftMember{p: &process{log: hclog.NewNullLogger(), srv: srv, health: &health{}}}
		if c.fatal {
			m.stoppingState(errors.New("store failure"))
		}
		m.demote(c.reason)
		if got := srv.State(); got != c.want {
			t.Errorf("demote(%v): state %s, want %s", c.reason, got, c.want)
		}
		srv.Close()
		ms.Close()
	}
}

// TestHealthReadyLockError: a standby whose lock attempts fail (permission,
// missing directory) cannot take over: it is not ready (SPEC D8: ready is a
// standby connected to NATS and able to take over); held by the active is
// the normal case and stays ready.
func TestHealthReadyLockError(t *testing.T) {
	h := &health{}
	st := ft.Status{State: ft.Standby, Connected: true, LastProgress: time.Now(),
		LockError: fmt.Errorf("filelock: lock /data/stanft.lock: %w: permission denied", ft.ErrLockFatal)}
	h.setStatus(func() ft.Status { return st })
	if err := h.Ready(""); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("standby with a lock error: Ready = %v, want an error naming it", err)
	}
	if err := h.Live(); err != nil {
		t.Errorf("standby with a lock error: Live = %v, want live (the loop runs)", err)
	}
	st.LockError = nil
	if err := h.Ready(""); err != nil {
		t.Errorf("standby: Ready = %v", err)
	}
}

// TestRunFTNATSLateAtStart: a NATS server that starts a moment after the
// member (compose, a pod restart) is waited for, briefly (ftConnectWait),
// and each attempt keeps the FT connection's short handshake timeout.
// Meanwhile the member's serverz says STANDALONE, not FT_STANDBY: it is not
// standing by before its FT connection exists (SPEC §8.2 "before FT setup",
// §8.4 step 1).
func TestRunFTNATSLateAtStart(t *testing.T) {
	port := testenv.FreePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	mon := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	var out testenv.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- runServer(ctx, serverEnv{Args: []string{"-ns", url, "-cid", "late", "-st", "FILE", "--dir", t.TempDir(), "--ft_group", "g",
			"-a", "127.0.0.1", "-m", strings.TrimPrefix(mon, "http://127.0.0.1:")}, Stdout: io.Discard, Stderr: &out})
	}()
	var state string
	waitFor(t, "serverz", func() bool {
		code, body, err := probe(mon + "/streaming/serverz")
		if err != nil || code != 200 {
			return false
		}
		var sz struct{ State string }
		if err := json.Unmarshal([]byte(body), &sz); err != nil {
			t.Fatal(err)
		}
		state = sz.State
		return true
	})
	if state != server.StateStandalone {
		t.Fatalf("state %q before the FT connection exists, want %s", state, server.StateStandalone)
	}
	time.Sleep(ftConnectWait / 3)
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	waitFor(t, "active", func() bool { return strings.Contains(out.String(), "Streaming Server is ready") })
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; log:\n%s", code, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not stop")
	}
}

// TestRunFTStoppedWhileConnecting: a member stopped while it still waits
// for its NATS server exits as any stopped server does (0 here; 143 for
// SIGTERM), not with a start failure.
func TestRunFTStoppedWhileConnecting(t *testing.T) {
	url := "nats://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) // nothing listens
	var out testenv.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), ftConnectWait/4)
	defer cancel()
	code := runServer(ctx, serverEnv{Args: []string{"-ns", url, "-cid", "stopc", "-st", "FILE", "--dir", t.TempDir(), "--ft_group", "g"},
		Stdout: io.Discard, Stderr: &out})
	if code != exitOK || strings.Contains(out.String(), "Failed to start") {
		t.Fatalf("exit %d; log:\n%s", code, out.String())
	}
}
