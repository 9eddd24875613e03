package monitor

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// selfSigned returns a server TLS config and a client pool trusting it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

func httpGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestStartHTTPAndHTTPS(t *testing.T) {
	src := newFakeSource()
	src.setState("FT_STANDBY")
	m := newTestMonitor(t, src, nil)
	tlsCfg, pool := selfSigned(t)
	if err := m.Start("127.0.0.1:0", "127.0.0.1:0", tlsCfg); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	if err := m.Start("127.0.0.1:0", "", nil); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second Start: %v", err)
	}

	code, body := httpGet(t, http.DefaultClient, "http://"+m.HTTPAddr()+"/streaming/serverz")
	if code != 200 || !strings.Contains(body, `"state": "FT_STANDBY"`) {
		t.Errorf("http serverz: %d %s", code, body)
	}
	tc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(tc.CloseIdleConnections)
	if code, _ := httpGet(t, tc, "https://"+m.HTTPSAddr()+"/streaming/isFTActive"); code != http.StatusNoContent {
		t.Errorf("https isFTActive: %d", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Probe(ctx, "http://"+m.HTTPAddr()+"/healthz"); err != nil {
		t.Errorf("Probe healthz: %v", err)
	}
	if err := Probe(ctx, "http://"+m.HTTPAddr()+"/readyz"); err != nil {
		t.Errorf("Probe readyz on a standby: %v", err)
	}
	err := Probe(ctx, "http://"+m.HTTPAddr()+"/readyz?role=active")
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Probe readyz?role=active on a standby: %v", err)
	}

	addr := m.HTTPAddr()
	if err := m.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := Probe(ctx, "http://"+addr+"/healthz"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Probe after Shutdown: %v, want connection refused", err)
	}
	if err := m.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	m := newTestMonitor(t, newFakeSource(), nil)
	if err := m.Start("", "", nil); !errors.Is(err, ErrNoListener) {
		t.Errorf("no address: %v", err)
	}
	if err := m.Start("", "127.0.0.1:0", nil); !errors.Is(err, ErrNoTLSConfig) {
		t.Errorf("https without TLS: %v", err)
	}
	if err := m.Start("", "127.0.0.1:0", &tls.Config{}); !errors.Is(err, ErrNoTLSConfig) {
		t.Errorf("https without certificate: %v", err)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// HTTP binds first, then HTTPS fails: the HTTP port must be released.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	tlsCfg, _ := selfSigned(t)
	err = m.Start(freeAddr, busy.Addr().String(), tlsCfg)
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "listen https on "+busy.Addr().String()) {
		t.Fatalf("bind error: %v", err)
	}
	again, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("HTTP port kept after a failed Start: %v", err)
	}
	again.Close()
	// A failed Start leaves the monitor startable.
	if err := m.Start("127.0.0.1:0", "", nil); err != nil {
		t.Fatalf("Start after failure: %v", err)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// blockingSource blocks Serverz until release is closed.
type blockingSource struct {
	*fakeSource
	entered chan struct{}
	release chan struct{}
}

func (b *blockingSource) Serverz() Serverz {
	close(b.entered)
	<-b.release
	return b.fakeSource.Serverz()
}

// TestServeGraceful: cancelling Serve's ctx lets an in-flight request
// finish, then Serve returns nil.
func TestServeGraceful(t *testing.T) {
	src := &blockingSource{fakeSource: newFakeSource(), entered: make(chan struct{}), release: make(chan struct{})}
	m := newTestMonitor(t, src, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx, addr, "", nil) }()

	ready := time.Now().Add(10 * time.Second)
	for m.HTTPAddr() == "" {
		if time.Now().After(ready) {
			t.Fatal("Serve did not bind")
		}
		time.Sleep(5 * time.Millisecond)
	}
	type result struct {
		code int
		body string
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/streaming/serverz")
		if err != nil {
			got <- result{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b)}
	}()
	select {
	case <-src.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("request did not reach the source")
	}
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(src.release)
	select {
	case r := <-got:
		if r.code != 200 || !strings.Contains(r.body, "cluster_id") {
			t.Errorf("in-flight request: %d %s", r.code, r.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight request did not finish")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestServeBindError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	m := newTestMonitor(t, newFakeSource(), nil)
	err = m.Serve(context.Background(), busy.Addr().String(), "", nil)
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "monitor: listen http on") {
		t.Errorf("Serve on a busy port: %v", err)
	}
}

func TestProbeErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Probe(ctx, "://bad"); err == nil {
		t.Error("bad URL accepted")
	}
	// A redirect is not success.
	srv := &http.Server{Handler: http.RedirectHandler("/elsewhere", http.StatusFound), ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	if err := Probe(ctx, "http://"+ln.Addr().String()+"/healthz"); err == nil || !strings.Contains(err.Error(), "302") {
		t.Errorf("redirect: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, time.Nanosecond)
	defer cancelShort()
	<-short.Done()
	if err := Probe(short, "http://"+ln.Addr().String()+"/healthz"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired ctx: %v", err)
	}
}
