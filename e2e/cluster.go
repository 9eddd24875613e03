package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// FT states as shown by /streaming/serverz.
const (
	StateActive  = "FT_ACTIVE"
	StateStandby = "FT_STANDBY"
)

// GroupConfig describes an FT group of stanft processes.
type GroupConfig struct {
	// Bin is the stanft binary. Required.
	Bin string
	// NATSURL is the NATS server every member (and every client) uses.
	// Required.
	NATSURL string
	// Members is the number of members. Default 2.
	Members int
	// ClusterID is -cid. Default "e2e-cluster".
	ClusterID string
	// FTGroup is --ft_group. Default "e2e".
	FTGroup string
	// Dir is the shared --dir. Default: a new t.TempDir().
	Dir string
	// Proxy puts a Proxy between each member and NATS (for partitions).
	Proxy bool
	// ExtraArgs are appended to every member's command line (e.g. timing
	// flags).
	ExtraArgs []string
}

// Member is one stanft process of a Group.
type Member struct {
	*Process
	// Index is the member's position in Group.Members.
	Index int
	// MonitorPort is the member's -m port on 127.0.0.1.
	MonitorPort int
	// Proxy is the member's path to NATS, nil unless GroupConfig.Proxy.
	Proxy *Proxy

	http *http.Client
}

// Group is an FT group: members sharing one datastore, cluster ID and group.
type Group struct {
	t       testing.TB
	cfg     GroupConfig
	Members []*Member
}

// NewGroup prepares a group without starting it.
func NewGroup(t testing.TB, cfg GroupConfig) *Group {
	t.Helper()
	if cfg.Bin == "" || cfg.NATSURL == "" {
		t.Fatalf("e2e: GroupConfig needs Bin and NATSURL")
	}
	if cfg.Members == 0 {
		cfg.Members = 2
	}
	if cfg.ClusterID == "" {
		cfg.ClusterID = "e2e-cluster"
	}
	if cfg.FTGroup == "" {
		cfg.FTGroup = "e2e"
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	g := &Group{t: t, cfg: cfg}
	for i := 0; i < cfg.Members; i++ {
		g.Members = append(g.Members, g.newMember(i))
	}
	return g
}

// StartGroup starts member 0, waits until it is active, then starts the others
// and waits until each reports FT_STANDBY. So Members[0] is the first active.
func StartGroup(t testing.TB, cfg GroupConfig) *Group {
	t.Helper()
	g := NewGroup(t, cfg)
	if err := g.StartMember(g.Members[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := g.WaitActive(15*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range g.Members[1:] {
		if err := g.StartMember(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range g.Members[1:] {
		if err := m.WaitState(StateStandby, 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// StartMember starts m and waits until its monitoring port answers. Other
// programs may take a port between FreePort and the bind: if m exits because
// its port is in use, it is retried on a new port (three attempts).
func (g *Group) StartMember(m *Member) error {
	for attempt := 0; ; attempt++ {
		mark := m.Mark()
		if err := m.Start(); err != nil {
			return err
		}
		deadline := time.Now().Add(15 * time.Second)
		for m.Running() && time.Now().Before(deadline) {
			if _, err := m.Serverz(); err == nil {
				return nil
			}
			time.Sleep(10 * time.Millisecond)
		}
		if m.Running() {
			return fmt.Errorf("e2e: %s: monitoring port %d not answering after 15s", m.Name(), m.MonitorPort)
		}
		if _, err := m.WaitLogAfter(mark, `address already in use`, 0); err != nil || attempt == 2 {
			code, _ := m.ExitCode()
			return fmt.Errorf("e2e: %s exited at start-up (code %d)", m.Name(), code)
		}
		m.MonitorPort = FreePort(g.t)
		m.SetArgs(g.memberArgs(m.Proxy, m.MonitorPort)...)
	}
}

// memberArgs is the command line of a member.
func (g *Group) memberArgs(proxy *Proxy, port int) []string {
	natsURL := g.cfg.NATSURL
	if proxy != nil {
		natsURL = proxy.URL()
	}
	args := []string{
		"-st", "FILE", "--dir", g.cfg.Dir,
		"--ft_group", g.cfg.FTGroup, "-cid", g.cfg.ClusterID,
		"-ns", natsURL, "-a", "127.0.0.1", "-m", strconv.Itoa(port),
	}
	return append(args, g.cfg.ExtraArgs...)
}

func (g *Group) newMember(i int) *Member {
	var proxy *Proxy
	if g.cfg.Proxy {
		proxy = NewProxy(g.t, hostPort(g.cfg.NATSURL))
	}
	port := FreePort(g.t)
	return &Member{
		Process:     NewProcess(g.t, fmt.Sprintf("stanft-%d", i), g.cfg.Bin, g.memberArgs(proxy, port)...),
		Index:       i,
		MonitorPort: port,
		Proxy:       proxy,
		http:        &http.Client{Timeout: 500 * time.Millisecond},
	}
}

// Dir returns the shared datastore directory.
func (g *Group) Dir() string { return g.cfg.Dir }

// ClusterID returns the group's cluster ID.
func (g *Group) ClusterID() string { return g.cfg.ClusterID }

// FTGroup returns the --ft_group name.
func (g *Group) FTGroup() string { return g.cfg.FTGroup }

// NATSURL returns the URL of the real NATS server (not a proxy).
func (g *Group) NATSURL() string { return g.cfg.NATSURL }

// Active returns the member whose /streaming/isFTActive answers 200. It
// returns (nil, nil) if none does and an error if more than one does.
func (g *Group) Active() (*Member, error) {
	var active *Member
	for _, m := range g.Members {
		if !m.Running() {
			continue
		}
		ok, err := m.IsActive()
		if err != nil || !ok {
			continue
		}
		if active != nil {
			return nil, fmt.Errorf("e2e: two active members: %s and %s", active.Name(), m.Name())
		}
		active = m
	}
	return active, nil
}

// WaitActive polls until one member is active and returns it. If not is
// non-nil, that member being active does not count (use it to wait for a
// takeover by another member).
func (g *Group) WaitActive(timeout time.Duration, not *Member) (*Member, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := g.Active()
		if err != nil {
			return nil, err
		}
		if m != nil && m != not {
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("e2e: no (new) active member after %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Standbys returns the running members that are not active.
func (g *Group) Standbys() []*Member {
	var out []*Member
	for _, m := range g.Members {
		if !m.Running() {
			continue
		}
		if ok, _ := m.IsActive(); !ok {
			out = append(out, m)
		}
	}
	return out
}

// MonitorURL returns "http://127.0.0.1:<port>".
func (m *Member) MonitorURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(m.MonitorPort)
}

// IsActive asks /streaming/isFTActive: true on 200, false on 204.
func (m *Member) IsActive() (bool, error) {
	resp, err := m.http.Get(m.MonitorURL() + "/streaming/isFTActive")
	if err != nil {
		return false, fmt.Errorf("e2e: %s isFTActive: %w", m.Name(), err)
	}
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNoContent:
		return false, nil
	default:
		return false, fmt.Errorf("e2e: %s isFTActive: status %d", m.Name(), resp.StatusCode)
	}
}

// Serverz is the part of /streaming/serverz the tests read.
type Serverz struct {
	ClusterID string `json:"cluster_id"`
	ServerID  string `json:"server_id"`
	State     string `json:"state"`
	Clients   int    `json:"clients"`
	Channels  int    `json:"channels"`
	TotalMsgs int    `json:"total_msgs"`
}

// Serverz fetches /streaming/serverz.
func (m *Member) Serverz() (Serverz, error) {
	var s Serverz
	resp, err := m.http.Get(m.MonitorURL() + "/streaming/serverz")
	if err != nil {
		return s, fmt.Errorf("e2e: %s serverz: %w", m.Name(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("e2e: %s serverz: status %d", m.Name(), resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("e2e: %s serverz: %w", m.Name(), err)
	}
	return s, nil
}

// State returns the serverz state ("FT_ACTIVE", "FT_STANDBY", ...).
func (m *Member) State() (string, error) {
	s, err := m.Serverz()
	return s.State, err
}

// WaitState polls serverz until the member reports state.
func (m *Member) WaitState(state string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	var lastErr error
	for time.Now().Before(deadline) {
		if !m.Running() {
			return fmt.Errorf("e2e: %s exited while waiting for %s", m.Name(), state)
		}
		last, lastErr = m.State()
		if lastErr == nil && last == state {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("e2e: %s not %s after %v (last %q, %v)", m.Name(), state, timeout, last, lastErr)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("e2e: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// hostPort turns "nats://h:p" into "h:p".
func hostPort(u string) string {
	const scheme = "nats://"
	if len(u) > len(scheme) && u[:len(scheme)] == scheme {
		return u[len(scheme):]
	}
	return u
}

// Channelz is the part of /streaming/channelsz?channel=X the tests read.
type Channelz struct {
	Name     string `json:"name"`
	Msgs     int    `json:"msgs"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

// Channelz fetches /streaming/channelsz?channel=name.
func (m *Member) Channelz(name string) (Channelz, error) {
	var c Channelz
	resp, err := m.http.Get(m.MonitorURL() + "/streaming/channelsz?channel=" + url.QueryEscape(name))
	if err != nil {
		return c, fmt.Errorf("e2e: %s channelsz: %w", m.Name(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("e2e: %s channelsz %s: status %d", m.Name(), name, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return c, fmt.Errorf("e2e: %s channelsz: %w", m.Name(), err)
	}
	return c, nil
}

// Get fetches a monitoring path (e.g. "/streaming/serverz") and returns the
// body.
func (m *Member) Get(path string) (string, error) {
	resp, err := m.http.Get(m.MonitorURL() + path)
	if err != nil {
		return "", fmt.Errorf("e2e: %s GET %s: %w", m.Name(), path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("e2e: %s GET %s: %w", m.Name(), path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("e2e: %s GET %s: status %d", m.Name(), path, resp.StatusCode)
	}
	return string(b), nil
}
