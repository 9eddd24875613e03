package monitor

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzQuery serves every monitoring path with arbitrary query strings: no
// input may panic, and the answer is always one the endpoint documents
// (SPEC §9, D8). The seeds run with go test; go test -fuzz=FuzzQuery
// explores further.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{
		"", "subs=1", "offset=-1&limit=-1", "offset=99999999999999999999&limit=99999999999999999999",
		"offset=9223372036854775807&limit=9223372036854775807", "client=c1&subs=1", "channel=foo&subs=1",
		"channel=%00", "client=%zz", "offset=%", "callback=cb", "callback=a-b", "callback=" + string(make([]byte, 200)),
		"role=active", "role=x", "subs=1&subs=0", "channel=foo&channel=bar", ";;;&&&==", "limit=1e3",
	} {
		f.Add(seed)
	}
	m := newTestMonitor(f, newFakeSource(), nil)
	h := m.Handler()
	paths := []string{RootPath, ServerPath, StorePath, ClientsPath, ChannelsPath, IsFTActivePath, HealthzPath, ReadyzPath}
	ok := map[int]bool{http.StatusOK: true, http.StatusNoContent: true, http.StatusBadRequest: true, http.StatusNotFound: true}
	f.Fuzz(func(t *testing.T, query string) {
		for _, p := range paths {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL = &url.URL{Path: p, RawQuery: query}
			req.RequestURI = req.URL.RequestURI()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if !ok[rec.Code] {
				t.Fatalf("%s?%s: status %d: %s", p, query, rec.Code, rec.Body)
			}
		}
	})
}
