package drill

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Member is what the drill saw of one member of the group.
type Member struct {
	// URL is the member's monitoring URL, as configured.
	URL string `json:"url"`
	// ServerID and State are from /streaming/serverz.
	ServerID string `json:"server_id,omitempty"`
	State    string `json:"state,omitempty"`
	// Active is true when /streaming/isFTActive answered 200.
	Active bool `json:"active"`
	// Epoch is the member's stanft_ft_epoch gauge (0 if not exported).
	Epoch uint64 `json:"epoch"`
	// Err is why the member could not be read ("" if it was).
	Err string `json:"error,omitempty"`
}

// prober reads members' monitoring endpoints.
type prober struct {
	client *http.Client
}

func newProber() *prober {
	return &prober{client: &http.Client{Timeout: time.Second}}
}

// probe reads one member. Errors are recorded in Member.Err: a killed or
// paused member is an expected sight during a drill.
func (p *prober) probe(ctx context.Context, base string) Member {
	m := Member{URL: base}
	base = strings.TrimSuffix(base, "/")
	code, _, err := p.get(ctx, base+"/streaming/isFTActive")
	if err != nil {
		m.Err = err.Error()
		return m
	}
	m.Active = code == http.StatusOK
	var sz struct {
		ServerID string `json:"server_id"`
		State    string `json:"state"`
	}
	if code, body, err := p.get(ctx, base+"/streaming/serverz"); err == nil && code == http.StatusOK {
		if err := json.Unmarshal(body, &sz); err == nil {
			m.ServerID, m.State = sz.ServerID, sz.State
		}
	}
	if code, body, err := p.get(ctx, base+"/metrics"); err == nil && code == http.StatusOK {
		m.Epoch = gaugeValue(body, "stanft_ft_epoch")
	}
	return m
}

// probeAll reads every member, concurrently: a dead or paused member costs
// one timeout, not one per member.
func (p *prober) probeAll(ctx context.Context, urls []string) []Member {
	out := make([]Member, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = p.probe(ctx, u)
		}()
	}
	wg.Wait()
	return out
}

func (p *prober) get(ctx context.Context, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("drill: %s: %w", u, err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("drill: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("drill: read %s: %w", u, err)
	}
	return resp.StatusCode, body, nil
}

// gaugeValue returns the value of an unlabelled metric in the Prometheus
// text format, or 0.
func gaugeValue(body []byte, name string) uint64 {
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok || !strings.HasPrefix(rest, " ") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || v < 0 {
			return 0
		}
		return uint64(v)
	}
	return 0
}

// actives returns the members that answered active.
func actives(ms []Member) []Member {
	var out []Member
	for _, m := range ms {
		if m.Active {
			out = append(out, m)
		}
	}
	return out
}
