package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/monitor"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunMonitor(t *testing.T) {
	port, mport := testenv.FreePort(t), testenv.FreePort(t)
	startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(mport), "-cid", "mon")
	base := "http://127.0.0.1:" + strconv.Itoa(mport)
	code, body := httpGet(t, base+"/streaming/serverz")
	if code != 200 {
		t.Fatalf("serverz: %d %s", code, body)
	}
	var sz monitor.Serverz
	if err := json.Unmarshal([]byte(body), &sz); err != nil {
		t.Fatalf("serverz: %v: %s", err, body)
	}
	if sz.ClusterID != "mon" || sz.State != "STANDALONE" {
		t.Fatalf("serverz = %+v", sz)
	}
	for _, path := range []string{"/healthz", "/readyz", "/readyz?role=active", "/varz", "/streaming/storez", "/metrics"} {
		if code, body := httpGet(t, base+path); code != 200 {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	// The healthcheck subcommand probes the same endpoints.
	if code := run(context.Background(), []string{"healthcheck", base + "/healthz"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("healthcheck: exit %d", code)
	}
	if code := run(context.Background(), []string{"healthcheck", "--ready", base + "/readyz"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("healthcheck --ready: exit %d", code)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func TestRunLogFileReopen(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "stanft.log")
	port := testenv.FreePort(t)
	r := startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-l", logPath, "--log_format", "json")
	if !strings.Contains(readFile(t, logPath), "Streaming Server is ready") {
		t.Fatalf("log file lacks the ready line:\n%s", readFile(t, logPath))
	}
	// JSON lines.
	first := strings.SplitN(readFile(t, logPath), "\n", 2)[0]
	var m map[string]any
	if err := json.Unmarshal([]byte(first), &m); err != nil || m["@message"] == nil {
		t.Fatalf("not a JSON log line: %q (%v)", first, err)
	}
	// Rotate: rename, then SIGUSR1 reopens the path.
	rotated := logPath + ".1"
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	r.signals <- syscall.SIGUSR1
	waitFor(t, "the reopened log file", func() bool { return strings.Contains(readFile(t, logPath), "File log re-opened") })
	if strings.Contains(readFile(t, rotated), "File log re-opened") {
		t.Fatal("the reopen line went to the rotated file")
	}
	// SIGHUP without a configuration file: the reload error is logged.
	r.signals <- syscall.SIGHUP
	waitFor(t, "the reload error", func() bool { return strings.Contains(readFile(t, logPath), "Reload: ") })
	if code := r.stop(t, nil); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !strings.Contains(readFile(t, logPath), "Shutting down.") {
		t.Fatal("shutdown not logged to the reopened file")
	}
}

func TestRunReloadWithConfig(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testReloadWithConfig(t) })
	// -m/-ms are served by stanft's monitor, not by the embedded NATS
	// server: a reload must not try to give them to NATS.
	t.Run("monitor", func(t *testing.T) { testReloadWithConfig(t, "-m", strconv.Itoa(testenv.FreePort(t))) })
}

func testReloadWithConfig(t *testing.T, extra ...string) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	port := testenv.FreePort(t)
	if err := os.WriteFile(conf, []byte("max_payload: 100000\nstreaming { cid: reload }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, append([]string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-c", conf}, extra...)...)
	if err := os.WriteFile(conf, []byte("max_payload: 200000\ndebug: true\nstreaming { cid: reload }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.signals <- syscall.SIGHUP
	waitFor(t, "the reload", func() bool {
		s := r.stderr.String()
		return strings.Contains(s, "Reloaded server configuration") || strings.Contains(s, "Reload: ")
	})
	if s := r.stderr.String(); strings.Contains(s, "Reload: ") {
		t.Fatalf("reload failed:\n%s", s)
	}
	// The reload turned NATS debug on, through stanft's logger.
	nc, err := nats.Connect(r.url)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	waitFor(t, "a NATS debug line", func() bool { return strings.Contains(r.stderr.String(), "[DEBUG] stanft.nats: ") })
}

func TestRunAuthFromConfigFileAndToken(t *testing.T) {
	// NATS authorization from the (only) -sc file: the embedded server
	// enforces it and the server's own connections use it.
	port := testenv.FreePort(t)
	conf := writeConf(t, "authorization { user: bob, password: pw }\nstreaming { cid: confauth }\n")
	startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sc", conf)
	url := "127.0.0.1:" + strconv.Itoa(port)
	if _, err := stan.Connect("confauth", "anon", stan.NatsURL("nats://"+url), stan.ConnectWait(time.Second)); err == nil {
		t.Fatal("connected without credentials")
	}
	sc, err := stan.Connect("confauth", "bob", stan.NatsURL("nats://bob:pw@"+url), stan.ConnectWait(5*time.Second))
	if err != nil {
		t.Fatalf("connect with credentials: %v", err)
	}
	sc.Close()

	// --auth token.
	port = testenv.FreePort(t)
	startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "--auth", "t0ken", "-cid", "tok")
	url = "127.0.0.1:" + strconv.Itoa(port)
	if _, err := stan.Connect("tok", "anon", stan.NatsURL("nats://"+url), stan.ConnectWait(time.Second)); err == nil {
		t.Fatal("connected without the token")
	}
	sc, err = stan.Connect("tok", "tk", stan.NatsURL("nats://t0ken@"+url), stan.ConnectWait(5*time.Second))
	if err != nil {
		t.Fatalf("connect with the token: %v", err)
	}
	sc.Close()
}

func TestRunStreamingCredentialsForExternalNATS(t *testing.T) {
	// The streaming username/password of the config file are used for an
	// external NATS server (-ns).
	port := testenv.FreePort(t)
	startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "--user", "u1", "--pass", "p1", "-cid", "first")
	conf := writeConf(t, "streaming { cid: second, username: u1, password: p1 }\n")
	startRun(t, "-ns", "nats://127.0.0.1:"+strconv.Itoa(port), "-sc", conf)
}

func TestCheckConfig(t *testing.T) {
	conf := writeConf(t, "port: 4999\nstreaming { cid: x }\n")
	var out testenv.SyncBuffer
	if code := run(context.Background(), []string{"-c", conf, "-t"}, &out, &out); code != 0 {
		t.Fatalf("-t: exit %d: %s", code, out.String())
	}
	if code := run(context.Background(), []string{"-t"}, &out, &out); code != 1 {
		t.Fatalf("-t without -c: exit %d", code)
	}
}

func TestSubcommandErrors(t *testing.T) {
	cases := [][]string{
		{"store"},
		{"store", "verify"},
		{"store", "verify", filepath.Join(os.TempDir(), "stanft-does-not-exist-dir")},
		{"ft"},
		{"ft", "step-down"},
		{"ft", "step-down", "--nats", "nats://127.0.0.1:1", "--ft_group", "g", "--timeout", "1s"},
		{"healthcheck", "--timeout", "1s", "http://127.0.0.1:1/healthz"},
		{"healthcheck", "a", "b"},
		{"drill", "--nope"},
	}
	for _, args := range cases {
		var out testenv.SyncBuffer
		want := 1
		if args[0] == "drill" {
			want = 2 // drill: could not run
		}
		if code := run(context.Background(), args, &out, &out); code != want {
			t.Errorf("%q: exit %d, want %d: %s", args, code, want, out.String())
		}
	}
}

// TestRunPortsFile: --ports_file_dir gets the NATS and monitoring URLs, as
// the reference's file has them, and the file is removed on shutdown.
func TestRunPortsFile(t *testing.T) {
	dir := t.TempDir()
	port, mport := testenv.FreePort(t), testenv.FreePort(t)
	r := startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(mport), "--ports_file_dir", dir)
	path := portsFilePath(dir)
	var ports struct {
		Nats       []string `json:"nats"`
		Monitoring []string `json:"monitoring"`
	}
	if err := json.Unmarshal([]byte(readFile(t, path)), &ports); err != nil {
		t.Fatalf("ports file %s: %v", path, err)
	}
	wantNATS := "nats://127.0.0.1:" + strconv.Itoa(port)
	wantMon := "http://127.0.0.1:" + strconv.Itoa(mport)
	if len(ports.Nats) != 1 || ports.Nats[0] != wantNATS || len(ports.Monitoring) != 1 || ports.Monitoring[0] != wantMon {
		t.Fatalf("ports = %+v, want nats %s and monitoring %s", ports, wantNATS, wantMon)
	}
	if code := r.stop(t, nil); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("ports file left behind: %v", err)
	}
}

func TestListenURLs(t *testing.T) {
	nats := []string{"nats://10.0.0.1:4222", "nats://192.168.1.2:4222"}
	for _, c := range []struct {
		addr string
		want string
	}{
		{"127.0.0.1:8222", "http://127.0.0.1:8222"},
		{"0.0.0.0:8222", "http://10.0.0.1:8222 http://192.168.1.2:8222"},
		{"[::]:8222", "http://10.0.0.1:8222 http://192.168.1.2:8222"},
	} {
		if got := strings.Join(listenURLs("http", c.addr, nats), " "); got != c.want {
			t.Errorf("listenURLs(%s) = %s, want %s", c.addr, got, c.want)
		}
	}
	if got := strings.Join(listenURLs("http", "0.0.0.0:8222", nil), " "); got != "http://127.0.0.1:8222" {
		t.Errorf("no NATS URLs: %s", got)
	}
}

// TestRunMonitorWithExternalNATS: with -ns the NATS endpoints (/varz, ...)
// are still served on the -m port, as the reference does with a NATS server
// object it never starts.
func TestRunMonitorWithExternalNATS(t *testing.T) {
	url := testenv.StartNATS(t)
	mport := testenv.FreePort(t)
	startRun(t, "-ns", url, "-m", strconv.Itoa(mport), "-cid", "extmon")
	base := "http://127.0.0.1:" + strconv.Itoa(mport)
	for _, path := range []string{"/varz", "/connz", "/streaming/serverz"} {
		if code, body := httpGet(t, base+path); code != 200 {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
}
