package monitor

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

func startNATS(t *testing.T, monitoring bool) *natsserver.Server {
	t.Helper()
	opts := &natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	if monitoring {
		opts.HTTPHost = "127.0.0.1"
		opts.HTTPPort = -1
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return ns
}

func checkVarz(t *testing.T, h http.Handler, ns *natsserver.Server) {
	t.Helper()
	rec := get(t, h, "/varz")
	if rec.Code != http.StatusOK {
		t.Fatalf("/varz status %d: %s", rec.Code, rec.Body)
	}
	var v struct {
		ServerID string `json:"server_id"`
		Port     int    `json:"port"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("/varz: %v", err)
	}
	if v.ServerID != ns.ID() || v.Port != ns.Addr().(*net.TCPAddr).Port {
		t.Errorf("/varz server_id %q port %d, want %q %d", v.ServerID, v.Port, ns.ID(), ns.Addr().(*net.TCPAddr).Port)
	}
	if rec := get(t, h, "/connz"); rec.Code != http.StatusOK {
		t.Errorf("/connz status %d", rec.Code)
	}
}

// TestNATSFallback: with the NATS server's own monitoring handler, NATS
// paths pass through while /healthz and /streaming/* are ours.
func TestNATSFallback(t *testing.T) {
	ns := startNATS(t, true)
	hh := ns.HTTPHandler()
	if hh == nil {
		t.Fatal("nats monitoring handler is nil")
	}
	health := &fakeHealth{live: errors.New("elector stopped")}
	m := newTestMonitor(t, newFakeSource(), func(c *Config) {
		c.NATSHandler = hh
		c.Health = health
	})
	checkVarz(t, m.Handler(), ns)
	// The NATS /healthz would answer 200: 503 proves ours is served first.
	if rec := get(t, m.Handler(), "/healthz"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/healthz through monitor: %d, want our 503", rec.Code)
	}
	if rec := get(t, m.Handler(), "/streaming/serverz"); rec.Code != http.StatusOK {
		t.Errorf("/streaming/serverz: %d", rec.Code)
	}
}

// TestNATSHandlerWithoutListener: NATSHandler serves the NATS endpoints of
// a server started with no monitoring port.
func TestNATSHandlerWithoutListener(t *testing.T) {
	ns := startNATS(t, false)
	if ns.HTTPHandler() != nil {
		t.Fatal("NATS monitoring unexpectedly started")
	}
	m := newTestMonitor(t, newFakeSource(), func(c *Config) { c.NATSHandler = NATSHandler(ns) })
	checkVarz(t, m.Handler(), ns)
	for _, p := range []string{"/", "/routez", "/subsz", "/subscriptionsz", "/accountz", "/jsz", "/leafz", "/gatewayz"} {
		if rec := get(t, m.Handler(), p); rec.Code != http.StatusOK {
			t.Errorf("%s status %d", p, rec.Code)
		}
	}
}
