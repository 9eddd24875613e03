package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// RoleActive is the only role /readyz?role= accepts.
const RoleActive = "active"

// ErrNotActive is returned by the default Health for role "active" when the
// server is not serving.
var ErrNotActive = errors.New("monitor: not the active server")

// healthBody is the JSON body of /healthz and /readyz, shaped like the NATS
// server's /healthz answer.
type healthBody struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// handleHealthz is the liveness probe: 200 while Health.Live is nil.
func (m *Monitor) handleHealthz(w http.ResponseWriter, r *http.Request) {
	m.writeHealth(w, m.health.Live())
}

// handleReadyz is the readiness probe. Without ?role it is 200 on a healthy
// standby too (D8); ?role=active is 503 unless this server is the active.
func (m *Monitor) handleReadyz(w http.ResponseWriter, r *http.Request) {
	role := r.URL.Query().Get("role")
	if role != "" && role != RoleActive {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		m.writeBody(w, healthBody{Status: "error", Error: fmt.Sprintf("unknown role %q: use role=%s or no role", role, RoleActive)})
		return
	}
	m.writeHealth(w, m.health.Ready(role))
}

func (m *Monitor) writeHealth(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		m.writeBody(w, healthBody{Status: "unavailable", Error: err.Error()})
		return
	}
	w.WriteHeader(http.StatusOK)
	m.writeBody(w, healthBody{Status: "ok"})
}

func (m *Monitor) writeBody(w io.Writer, b healthBody) {
	if err := json.NewEncoder(w).Encode(b); err != nil {
		m.log.Debug("write health response", "error", err)
	}
}

// sourceHealth is the Health used when Config.Health is nil.
type sourceHealth struct{ src Source }

func (sourceHealth) Live() error { return nil }

func (h sourceHealth) Ready(role string) error {
	if role != RoleActive {
		return nil
	}
	switch st := h.src.Serverz().State; st {
	case FTActiveState, "STANDALONE":
		return nil
	default:
		return fmt.Errorf("%w: state %s", ErrNotActive, st)
	}
}

// Probe GETs url and returns nil on a 2xx answer. It is what the
// `stanft healthcheck` subcommand runs (Docker HEALTHCHECK has no curl in a
// static image). ctx bounds the whole request; redirects are not followed.
func Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("monitor: probe %s: %w", url, err)
	}
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("monitor: probe: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("monitor: probe %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
