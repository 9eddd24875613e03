package monitor

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// FTActiveState is the Serverz state for which /streaming/isFTActive
// answers 200. The Source must report it only once the active has recovered
// and serves clients (SPEC §0 D8).
const FTActiveState = "FT_ACTIVE"

var rootPage = template.Must(template.New("root").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>stanft monitoring</title></head>
<body>
<h1>stanft monitoring</h1>
<ul>
{{range .}}<li><a href=".{{.}}">{{.}}</a></li>
{{end}}</ul>
</body>
</html>
`))

var rootLinks = []string{ServerPath, StorePath, ClientsPath, ChannelsPath, IsFTActivePath, MetricsPath, HealthzPath, ReadyzPath}

// handleRoot serves the small HTML index of /streaming.
func (m *Monitor) handleRoot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := rootPage.Execute(w, rootLinks); err != nil {
		m.log.Debug("write index", "error", err)
	}
}

func (m *Monitor) handleServerz(w http.ResponseWriter, r *http.Request) {
	s := m.src.Serverz()
	m.sendJSON(w, r, &s)
}

func (m *Monitor) handleStorez(w http.ResponseWriter, r *http.Request) {
	s := m.src.Storez()
	m.sendJSON(w, r, &s)
}

// handleIsFTActive answers 200 when the server is the serving FT active and
// 204 in every other state, with no body.
func (m *Monitor) handleIsFTActive(w http.ResponseWriter, r *http.Request) {
	if m.src.Serverz().State == FTActiveState {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Monitor) handleClientsz(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	subs := wantSubs(q.Get("subs"))
	if id := q.Get("client"); id != "" {
		c, ok := m.src.Client(id, subs)
		m.sendFound(w, r, "Client", id, &c, ok)
		return
	}
	p := parsePage(q.Get("offset"), q.Get("limit"))
	ids := m.src.ClientIDs()
	lo, hi := p.bounds(len(ids))
	out := Clientsz{
		Now:    time.Now(),
		Offset: p.offset,
		Limit:  p.limit,
		Total:  len(ids),
	}
	out.ClusterID, out.ServerID = m.ids()
	out.Clients = existing(ids[lo:hi], func(id string) (Clientz, bool) { return m.src.Client(id, subs) })
	out.Count = len(out.Clients)
	m.sendJSON(w, r, &out)
}

func (m *Monitor) handleChannelsz(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	subs := wantSubs(q.Get("subs"))
	if name := q.Get("channel"); name != "" {
		c, ok := m.src.Channel(name, subs)
		referenceOrder(c.Subscriptions)
		m.sendFound(w, r, "Channel", name, &c, ok)
		return
	}
	p := parsePage(q.Get("offset"), q.Get("limit"))
	names := m.src.ChannelNames()
	lo, hi := p.bounds(len(names))
	out := Channelsz{
		Now:    time.Now(),
		Offset: p.offset,
		Limit:  p.limit,
		Total:  len(names),
	}
	out.ClusterID, out.ServerID = m.ids()
	if subs {
		out.Channels = existing(names[lo:hi], func(name string) (Channelz, bool) {
			c, ok := m.src.Channel(name, true)
			referenceOrder(c.Subscriptions)
			return c, ok
		})
		out.Count = len(out.Channels)
	} else {
		out.Names = names[lo:hi]
		out.Count = len(out.Names)
	}
	m.sendJSON(w, r, &out)
}

// referenceOrder sorts a channel's subscriptions in place the way the
// reference lists them (server/monitor.go:getMonitorChannelSubs): the online
// plain and durable subscriptions first, then the offline durables, then the
// queue groups, each group's members (and offline durable queue group) kept
// together. The sort is stable: within those groups the Source's order
// (creation order) stays.
func referenceOrder(subs []Subscriptionz) {
	groupRank := make(map[string]int)
	for _, s := range subs {
		if _, ok := groupRank[s.QueueName]; !ok && s.QueueName != "" {
			groupRank[s.QueueName] = len(groupRank)
		}
	}
	rank := func(s Subscriptionz) (int, int) {
		switch {
		case s.QueueName != "":
			return 2, groupRank[s.QueueName]
		case s.IsOffline:
			return 1, 0
		}
		return 0, 0
	}
	slices.SortStableFunc(subs, func(a, b Subscriptionz) int {
		ka, ga := rank(a)
		kb, gb := rank(b)
		if ka != kb {
			return ka - kb
		}
		return ga - gb
	})
}

// sendFound answers doc, the document of the client or channel called name,
// or 404 "<kind> <name> not found" (the reference's text) if it is unknown.
func (m *Monitor) sendFound(w http.ResponseWriter, r *http.Request, kind, name string, doc any, found bool) {
	if !found {
		http.Error(w, fmt.Sprintf("%s %s not found", kind, name), http.StatusNotFound)
		return
	}
	m.sendJSON(w, r, doc)
}

// existing returns the documents of the keys that still exist, in order,
// never nil. A client may close, and a channel be deleted (max_inactivity),
// between the listing and the fetch: it is skipped, so that count is what
// the page returns.
func existing[T any](keys []string, get func(string) (T, bool)) []T {
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		if v, ok := get(k); ok {
			out = append(out, v)
		}
	}
	return out
}

// ids returns the cluster and server IDs for the list documents.
func (m *Monitor) ids() (clusterID, serverID string) {
	if id, ok := m.src.(Identifier); ok {
		return id.IDs()
	}
	s := m.src.Serverz()
	return s.ClusterID, s.ServerID
}

// wantSubs reports whether the subs parameter asks for subscriptions: only
// the integer 1 does, as in the reference.
func wantSubs(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n == 1
}

// page is a normalised offset/limit pair.
type page struct{ offset, limit int }

// parsePage applies SPEC §9: offset < 0 → 0; limit ≤ 0 or absent →
// DefaultListLimit. A value is read as the reference reads it, strconv.Atoi
// with its error ignored: unparsable text is 0, and a number out of the int
// range is clamped to the nearest int (so a huge limit stays huge rather
// than becoming the default).
func parsePage(offset, limit string) page {
	o := atoi(offset)
	if o < 0 {
		o = 0
	}
	l := atoi(limit)
	if l <= 0 {
		l = DefaultListLimit
	}
	return page{offset: o, limit: l}
}

// atoi is strconv.Atoi without its error: 0 for a syntax error, the clamped
// value for a range error.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// bounds returns the slice bounds [min(offset,total), min(offset+limit,total)].
func (p page) bounds(total int) (lo, hi int) {
	lo = min(p.offset, total)
	hi = total
	// offset+limit may overflow for huge values: compare without adding.
	if p.limit < total-lo {
		hi = lo + p.limit
	}
	return lo, hi
}

// sendJSON writes v indented by two spaces, with no trailing newline, as
// the reference does; with ?callback=f it writes the JSONP form f(<json>).
func (m *Monitor) sendJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		m.log.Error("encode response", "path", r.URL.Path, "error", err)
		http.Error(w, fmt.Sprintf("Error encoding response: %v", err), http.StatusInternalServerError)
		return
	}
	if cb := r.URL.Query().Get("callback"); cb != "" {
		if !validCallback(cb) {
			http.Error(w, "invalid callback: use letters, digits, '_', '$' and '.'", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/javascript")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		writeAll(w, m, []byte(cb), []byte("("), b, []byte(")"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	writeAll(w, m, b)
}

func writeAll(w http.ResponseWriter, m *Monitor, parts ...[]byte) {
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			m.log.Debug("write response", "error", err)
			return
		}
	}
}

// validCallback accepts JavaScript dotted identifiers (f, app.cb, $x_1).
// The reference echoes any callback verbatim, which lets a crafted link
// inject script; real JSONP callbacks never need more than this.
func validCallback(cb string) bool {
	if len(cb) > 128 {
		return false
	}
	for i := 0; i < len(cb); i++ {
		c := cb[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '$', c == '.':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// FormatUptime formats d the way Serverz.uptime shows it: 1y2d3h4m5s, with
// leading zero units left out (3m4s, 5s). Sources use it to fill Uptime.
func FormatUptime(d time.Duration) string {
	secs := int64(d / time.Second)
	mins, hours := secs/60, secs/3600
	days := hours / 24
	years := days / 365
	switch {
	case years > 0:
		return fmt.Sprintf("%dy%dd%dh%dm%ds", years, days%365, hours%24, mins%60, secs%60)
	case days > 0:
		return fmt.Sprintf("%dd%dh%dm%ds", days, hours%24, mins%60, secs%60)
	case hours > 0:
		return fmt.Sprintf("%dh%dm%ds", hours, mins%60, secs%60)
	case mins > 0:
		return fmt.Sprintf("%dm%ds", mins, secs%60)
	}
	return fmt.Sprintf("%ds", secs)
}
