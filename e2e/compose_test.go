package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nuid"

	"github.com/stanft/stanft/drill"
)

// The docker-compose FT pair of the repository (../docker-compose.yml), run
// for real: the FROM-scratch image of deploy/Dockerfile, two containers on
// one named volume, their embedded NATS servers routed to each other, and
// clients on the published ports. Skipped only when no Docker engine
// answers.

// composePair is one running copy of the compose project.
type composePair struct {
	t        *testing.T
	cli      []string // "docker compose" or "docker-compose"
	file     string
	project  string
	env      []string
	services []string // stanft-a, stanft-b
	monitor  []string // published monitoring URLs, same order
	clients  []string // published client URLs
}

const composeCmdTimeout = 3 * time.Minute

func TestComposeFTPair(t *testing.T) {
	requireDocker(t)
	requireStanft(t)
	sweepStaleComposePairs(t)
	p := startComposePair(t)

	// Exactly one active, reachable through the published ports, and the
	// two embedded NATS servers routed (a client of the standby's server
	// reaches the active through the route).
	active := p.waitSingleActive(60 * time.Second)
	p.waitRouted(30 * time.Second)
	p.waitHealthy(60 * time.Second)
	t.Logf("active: %s", p.services[active])

	// 1. docker kill the active while a stan.go client publishes through the
	// published ports: the other takes over, no acknowledged message is lost.
	killed := make(chan string, 1)
	cfg := p.drillConfig(drill.ModeWait)
	rep, err := drill.Run(t.Context(), cfg, &onLine{pattern: "now kill", fn: func() {
		i, err := p.active()
		if err != nil {
			t.Errorf("find the active to kill: %v", err)
			killed <- ""
			return
		}
		p.docker("kill", p.container(p.services[i]))
		killed <- p.monitor[i]
	}})
	if err != nil {
		t.Fatalf("kill drill: %v", err)
	}
	k := <-killed
	p.logReport(rep)
	if k == "" || rep.Before.URL != k || rep.After.URL == k || rep.After.URL == "" {
		t.Errorf("killed %s; active before %s, after %s: want the other member", k, rep.Before.URL, rep.After.URL)
	}
	checkDrill(t, rep)

	// The killed member comes back (restart: unless-stopped, or by hand) as
	// a standby; the pair is whole again.
	p.compose("start")
	p.waitBothAnswer(60 * time.Second)
	p.waitRouted(30 * time.Second)
	if i := p.waitSingleActive(30 * time.Second); p.monitor[i] != rep.After.URL {
		t.Errorf("active after restart is %s, want %s to stay active", p.monitor[i], rep.After.URL)
	}

	// 2. A graceful step-down through the published ports.
	rep, err = drill.Run(t.Context(), p.drillConfig(drill.ModeStepDown), nil)
	if err != nil {
		t.Fatalf("step-down drill: %v", err)
	}
	p.logReport(rep)
	checkDrill(t, rep)

	// 3. docker pause the active: the frozen process keeps the lock, so the
	// other never becomes active; after unpause exactly one is.
	active = p.waitSingleActive(30 * time.Second)
	other := 1 - active
	w := p.watch(20 * time.Millisecond)
	paused := p.container(p.services[active])
	p.docker("pause", paused)
	pausedAt := time.Now()
	t.Cleanup(func() { p.dockerQuiet("unpause", paused) })
	time.Sleep(6 * time.Second) // several missed-heartbeat intervals
	p.docker("unpause", paused)
	unpausedAt := time.Now()
	time.Sleep(4 * time.Second)
	final := p.waitSingleActive(30 * time.Second)
	w.stop()
	if n := w.activeBetween(other, pausedAt, unpausedAt); n > 0 {
		t.Errorf("%s reported %s %d times while the active was paused", p.services[other], StateActive, n)
	}
	if err := w.checkSingleActive(); err != nil {
		t.Error(err)
	}
	if w.answers(other) == 0 {
		t.Errorf("%s never answered while watched", p.services[other])
	}
	t.Logf("after unpause the active is %s", p.services[final])
}

// checkDrill checks a drill report of a failover on a healthy pair.
func checkDrill(t *testing.T, r *drill.Report) {
	t.Helper()
	if r.Lost != 0 {
		t.Errorf("lost %d acknowledged messages: %v", r.Lost, r.LostIDs)
	}
	if r.Acknowledged == 0 || r.Delivered < r.Acknowledged {
		t.Errorf("acknowledged %d, delivered %d", r.Acknowledged, r.Delivered)
	}
	if r.After.ServerID == "" || r.After.ServerID == r.Before.ServerID || r.After.Epoch <= r.Before.Epoch {
		t.Errorf("before %+v, after %+v: want another server with a higher epoch", r.Before, r.After)
	}
}

// requireDocker skips the test, saying why, when no Docker engine answers.
func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("e2e: no Docker engine: the docker CLI is not installed; the docker-compose FT pair test needs one")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("e2e: no Docker engine answers (docker info: %v: %s); the docker-compose FT pair test needs one",
			err, strings.TrimSpace(string(out)))
	}
}

// composeProjectPrefix names every project this test creates.
const composeProjectPrefix = "stanfte2e"

// staleAfter is the age after which a pair of this test is left over from a
// run that was killed (a go test timeout skips t.Cleanup); it exceeds any
// run's -timeout, so a concurrent run's pair is never touched.
const staleAfter = 2 * time.Hour

// sweepStaleComposePairs removes the containers, volume, network and image
// of pairs this test left behind in killed runs.
func sweepStaleComposePairs(t *testing.T) {
	t.Helper()
	out, err := runCmd(nil, "docker", "ps", "-a", "--filter", "label=com.docker.compose.project",
		"--format", `{{.ID}}|{{.Label "com.docker.compose.project"}}|{{.CreatedAt}}`)
	if err != nil {
		t.Logf("list old compose containers: %v: %s", err, out)
		return
	}
	stale := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(line, "|", 3)
		if len(f) != 3 || !strings.HasPrefix(f[1], composeProjectPrefix) {
			continue
		}
		created, err := time.Parse("2006-01-02 15:04:05 -0700 MST", f[2])
		if err != nil || time.Since(created) < staleAfter {
			continue
		}
		stale[f[1]] = append(stale[f[1]], f[0])
	}
	for project, ids := range stale {
		t.Logf("removing compose pair %s left by a killed run", project)
		_, _ = runCmd(nil, "docker", append([]string{"rm", "-f"}, ids...)...)
		_, _ = runCmd(nil, "docker", "volume", "rm", project+"_datastore")
		_, _ = runCmd(nil, "docker", "network", "rm", project+"_default")
		_, _ = runCmd(nil, "docker", "rmi", "-f", "stanft-e2e:"+strings.TrimPrefix(project, composeProjectPrefix))
	}
}

// composeCLI returns the compose command: the v2 plugin when present, else
// the v1 docker-compose CLI.
func composeCLI(t *testing.T) []string {
	t.Helper()
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	t.Fatal("e2e: a Docker engine answers but neither `docker compose` nor docker-compose is installed (.ci/run installs docker-compose)")
	return nil
}

// startComposePair builds the image from the test's static binary, brings
// the pair up under a unique project name and published ports, and tears it
// all down (containers, network, volume, image) in t.Cleanup, even on
// failure.
func startComposePair(t *testing.T) *composePair {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	suffix := strings.ToLower(nuid.Next()[:10])
	p := &composePair{
		t:        t,
		cli:      composeCLI(t),
		file:     filepath.Join(root, "docker-compose.yml"),
		project:  composeProjectPrefix + suffix,
		services: []string{"stanft-a", "stanft-b"},
	}
	image := "stanft-e2e:" + suffix

	// The image's build context: bin/stanft and deploy/rootfs, as `make
	// image` has them at the repository root.
	ctxDir := t.TempDir()
	copyFile(t, stanftBin, filepath.Join(ctxDir, "bin", "stanft"), 0o755)
	copyFile(t, filepath.Join(root, "deploy", "rootfs", "data", ".keep"), filepath.Join(ctxDir, "deploy", "rootfs", "data", ".keep"), 0o644)
	p.run(nil, "docker", "build", "-q", "-f", filepath.Join(root, "deploy", "Dockerfile"), "-t", image, ctxDir)
	t.Cleanup(func() { p.dockerQuiet("rmi", "-f", image) })
	if u := strings.TrimSpace(p.run(nil, "docker", "image", "inspect", "--format", "{{.Config.User}}", image)); u != "10001:10001" {
		t.Errorf("image runs as %q, want the non-root 10001:10001", u)
	}

	ports := make([]int, 4)
	for i := range ports {
		ports[i] = FreePort(t)
	}
	p.env = []string{
		"STANFT_IMAGE=" + image,
		"STANFT_A_CLIENT_PORT=" + strconv.Itoa(ports[0]),
		"STANFT_A_MONITOR_PORT=" + strconv.Itoa(ports[1]),
		"STANFT_B_CLIENT_PORT=" + strconv.Itoa(ports[2]),
		"STANFT_B_MONITOR_PORT=" + strconv.Itoa(ports[3]),
	}
	p.clients = []string{fmt.Sprintf("nats://127.0.0.1:%d", ports[0]), fmt.Sprintf("nats://127.0.0.1:%d", ports[2])}
	p.monitor = []string{fmt.Sprintf("http://127.0.0.1:%d", ports[1]), fmt.Sprintf("http://127.0.0.1:%d", ports[3])}

	t.Cleanup(func() {
		if t.Failed() {
			out, _ := p.output("logs", "--no-color", "--tail", "200")
			t.Logf("compose logs:\n%s", out)
		}
		for _, s := range p.services {
			if id, err := p.output("ps", "-q", s); err == nil && strings.TrimSpace(id) != "" {
				p.dockerQuiet("unpause", strings.TrimSpace(id))
			}
		}
		if out, err := p.output("down", "-v", "--remove-orphans", "-t", "5"); err != nil {
			t.Errorf("compose down -v: %v\n%s", err, out)
		}
	})
	p.compose("up", "-d", "--no-build")
	return p
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// run runs a command with the project's environment; it fails the test on
// error.
func (p *composePair) run(env []string, name string, args ...string) string {
	p.t.Helper()
	out, err := runCmd(env, name, args...)
	if err != nil {
		p.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runCmd(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), composeCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Let a timed-out command end its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	return out.String(), err
}

func (p *composePair) composeArgs(args ...string) (string, []string) {
	all := append(append([]string(nil), p.cli[1:]...), "-p", p.project, "-f", p.file)
	return p.cli[0], append(all, args...)
}

// compose runs a compose subcommand on the project; fails the test on error.
func (p *composePair) compose(args ...string) string {
	p.t.Helper()
	name, all := p.composeArgs(args...)
	return p.run(p.env, name, all...)
}

// output runs a compose subcommand and returns its output and error.
func (p *composePair) output(args ...string) (string, error) {
	name, all := p.composeArgs(args...)
	return runCmd(p.env, name, all...)
}

func (p *composePair) docker(args ...string) string {
	p.t.Helper()
	return p.run(nil, "docker", args...)
}

func (p *composePair) dockerQuiet(args ...string) {
	_, _ = runCmd(nil, "docker", args...)
}

// container returns the container ID of a service.
func (p *composePair) container(service string) string {
	p.t.Helper()
	id := strings.TrimSpace(p.compose("ps", "-q", service))
	if id == "" {
		p.t.Fatalf("no container for service %s", service)
	}
	return id
}

func (p *composePair) drillConfig(mode drill.Mode) drill.Config {
	cfg := drill.DefaultConfig()
	cfg.NATSURL = strings.Join(p.clients, ",")
	cfg.ClusterID = "test-cluster"
	cfg.FTGroup = "ft"
	cfg.Members = p.monitor
	cfg.Mode = mode
	cfg.Warmup = time.Second
	cfg.Settle = time.Second
	cfg.PubAckWait = 2 * time.Second
	cfg.Timeout = 90 * time.Second
	return cfg
}

func (p *composePair) logReport(r *drill.Report) {
	var b bytes.Buffer
	_ = r.WriteText(&b)
	p.t.Logf("\n%s", b.String())
}

var composeHTTP = &http.Client{Timeout: 500 * time.Millisecond}

// state returns the member's /streaming/serverz state ("" if it does not
// answer).
func (p *composePair) state(i int) string {
	resp, err := composeHTTP.Get(p.monitor[i] + "/streaming/serverz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var sz struct {
		State string `json:"state"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&sz) != nil {
		return ""
	}
	return sz.State
}

// active returns the one active member's index.
func (p *composePair) active() (int, error) {
	var act []int
	states := make([]string, len(p.monitor))
	for i := range p.monitor {
		states[i] = p.state(i)
		if states[i] == StateActive {
			act = append(act, i)
		}
	}
	if len(act) != 1 {
		return -1, fmt.Errorf("want one %s, states %q", StateActive, states)
	}
	return act[0], nil
}

func (p *composePair) waitSingleActive(timeout time.Duration) int {
	p.t.Helper()
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var i int
		if i, err = p.active(); err == nil {
			return i
		}
	}
	p.t.Fatalf("no single active member within %s: %v", timeout, err)
	return -1
}

func (p *composePair) waitBothAnswer(timeout time.Duration) {
	p.t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if p.state(0) != "" && p.state(1) != "" {
			return
		}
	}
	p.t.Fatalf("both members did not answer within %s", timeout)
}

// waitRouted waits until each member's NATS server has a route (the NATS
// /routez endpoint, served on the monitoring port too).
func (p *composePair) waitRouted(timeout time.Duration) {
	p.t.Helper()
	routes := func(i int) int {
		resp, err := composeHTTP.Get(p.monitor[i] + "/routez")
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		var rz struct {
			NumRoutes int `json:"num_routes"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&rz) != nil {
			return 0
		}
		return rz.NumRoutes
	}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if routes(0) > 0 && routes(1) > 0 {
			return
		}
	}
	p.t.Fatalf("the members' NATS servers did not route to each other within %s", timeout)
}

// waitHealthy waits until Docker reports both containers healthy: the
// image's HEALTHCHECK (`/stanft healthcheck`, no shell in the image) works,
// on the standby too.
func (p *composePair) waitHealthy(timeout time.Duration) {
	p.t.Helper()
	var states []string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		states = states[:0]
		for _, s := range p.services {
			out, _ := runCmd(nil, "docker", "inspect", "--format", "{{.State.Health.Status}}", p.container(s))
			states = append(states, strings.TrimSpace(out))
		}
		if states[0] == "healthy" && states[1] == "healthy" {
			return
		}
	}
	p.t.Fatalf("containers not healthy within %s: %q", timeout, states)
}

// composeWatch polls both members' states concurrently.
type composeWatch struct {
	p      *composePair
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	smp    []StateSample
}

func (p *composePair) watch(interval time.Duration) *composeWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &composeWatch{p: p, cancel: cancel}
	for i := range p.monitor {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			tk := time.NewTicker(interval)
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
				}
				start := time.Now()
				st := p.state(i)
				w.mu.Lock()
				w.smp = append(w.smp, StateSample{Member: i, Start: start, End: time.Now(), State: st})
				w.mu.Unlock()
			}
		}()
	}
	p.t.Cleanup(w.stop)
	return w
}

func (w *composeWatch) stop() {
	w.cancel()
	w.wg.Wait()
}

func (w *composeWatch) samples() []StateSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]StateSample(nil), w.smp...)
}

// activeBetween counts member i's active answers whose request started in
// [from, to].
func (w *composeWatch) activeBetween(i int, from, to time.Time) int {
	n := 0
	for _, s := range w.samples() {
		if s.Member == i && s.State == StateActive && !s.Start.Before(from) && !s.Start.After(to) {
			n++
		}
	}
	return n
}

// answers counts member i's answers.
func (w *composeWatch) answers(i int) int {
	n := 0
	for _, s := range w.samples() {
		if s.Member == i && s.State != "" {
			n++
		}
	}
	return n
}

// checkSingleActive fails when the two members' active answers overlap in
// time in two or more polls (one overlap can be a hand-off seen from both
// sides; see StateWatcher.CheckSingleActive).
func (w *composeWatch) checkSingleActive() error {
	var a, b []StateSample
	for _, s := range w.samples() {
		if s.State != StateActive {
			continue
		}
		if s.Member == 0 {
			a = append(a, s)
		} else {
			b = append(b, s)
		}
	}
	overlaps := 0
	for _, x := range a {
		for _, y := range b {
			if x.Start.Before(y.End) && y.Start.Before(x.End) {
				overlaps++
				break
			}
		}
	}
	if overlaps >= 2 {
		return fmt.Errorf("both members reported %s in %d overlapping polls", StateActive, overlaps)
	}
	return nil
}

// onLine calls fn once (in its own goroutine) when the text written so far
// contains pattern; the drill's progress goes here.
type onLine struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	pattern string
	once    sync.Once
	fn      func()
}

func (o *onLine) Write(b []byte) (int, error) {
	o.mu.Lock()
	n, _ := o.buf.Write(b)
	hit := strings.Contains(o.buf.String(), o.pattern)
	o.mu.Unlock()
	if hit {
		o.once.Do(func() { go o.fn() })
	}
	return n, nil
}
