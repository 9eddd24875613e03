package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go"

	"github.com/stanft/stanft/internal/testenv"
)

// writeSelfSignedCert writes a self-signed certificate for 127.0.0.1 and its
// key, and returns their paths.
func writeSelfSignedCert(t *testing.T) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "stanft-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

func TestRunEmbeddedNATSWithTLS(t *testing.T) {
	cert, key := writeSelfSignedCert(t)
	port, mport := testenv.FreePort(t), testenv.FreePort(t)
	r := startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-cid", "tlsc",
		"--tls", "--tlscert", cert, "--tlskey", key, "-ms", strconv.Itoa(mport))
	if r.url != "tls://127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("internal URL %q", r.url)
	}
	nc, err := nats.Connect("tls://127.0.0.1:"+strconv.Itoa(port), nats.RootCAs(cert), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	defer nc.Close()
	sc, err := stan.Connect("tlsc", "c1", stan.NatsConn(nc), stan.ConnectWait(5*time.Second))
	if err != nil {
		t.Fatalf("stan connect: %v", err)
	}
	defer sc.Close()
	if err := sc.Publish("foo", []byte("x")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	// -ms serves the monitor over HTTPS with the NATS server certificate.
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(b)
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(mport), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("https monitor: %v", err)
	}
	conn.Close()
}

func TestRunTLSClientFlagsToExternalNATS(t *testing.T) {
	cert, key := writeSelfSignedCert(t)
	// An embedded TLS server (first run) is the "external" NATS of the second.
	port := testenv.FreePort(t)
	startRun(t, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-cid", "first",
		"--tls", "--tlscert", cert, "--tlskey", key)
	url := "tls://127.0.0.1:" + strconv.Itoa(port)
	startRun(t, "-ns", url, "-cid", "second", "-tls_client_cert", cert, "-tls_client_key", key, "-tls_client_cacert", cert)
	nc, err := nats.Connect(url, nats.RootCAs(cert), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sc, err := stan.Connect("second", "c1", stan.NatsConn(nc), stan.ConnectWait(5*time.Second))
	if err != nil {
		t.Fatalf("stan connect to the second server: %v", err)
	}
	sc.Close()
}
