package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	natsd "github.com/nats-io/nats-server/v2/server"
)

// portsWait bounds the wait for the embedded NATS listeners before the
// ports file is written.
const portsWait = 5 * time.Second

// portsFilePath is the --ports_file_dir file, named as nats-server names it:
// <executable>_<pid>.ports.
func portsFilePath(dir string) string {
	return filepath.Join(dir, fmt.Sprintf("%s_%d.ports", filepath.Base(os.Args[0]), os.Getpid()))
}

// writePortsFile writes the --ports_file_dir file. The embedded NATS server
// runs without the monitoring ports (stanft's monitor listens on them), so
// stanft writes the file itself, with the NATS listeners and the monitor's
// URLs under "monitoring", as the reference's file has them. It returns the
// path written.
func (p *process) writePortsFile(dir string) (string, error) {
	ports := &natsd.Ports{}
	if p.nats != nil {
		if pi := p.nats.ns.PortsInfo(portsWait); pi != nil {
			ports = pi
		}
	}
	if p.mon != nil {
		if a := p.mon.HTTPAddr(); a != "" {
			ports.Monitoring = append(ports.Monitoring, listenURLs("http", a, ports.Nats)...)
		}
		if a := p.mon.HTTPSAddr(); a != "" {
			ports.Monitoring = append(ports.Monitoring, listenURLs("https", a, ports.Nats)...)
		}
	}
	b, err := json.Marshal(ports)
	if err != nil {
		return "", fmt.Errorf("ports file: %w", err)
	}
	path := portsFilePath(dir)
	if err := os.WriteFile(path, b, 0o666); err != nil {
		return "", fmt.Errorf("ports file: %w", err)
	}
	return path, nil
}

// listenURLs returns the URLs of a listener bound to addr. An unspecified
// host (0.0.0.0, ::) is listed as the hosts the NATS URLs name (nats-server
// lists the interface addresses there), else as loopback.
func listenURLs(scheme, addr string, natsURLs []string) []string {
	host, port, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsUnspecified() {
		return []string{scheme + "://" + addr}
	}
	var out []string
	for _, s := range natsURLs {
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" {
			continue
		}
		out = append(out, scheme+"://"+net.JoinHostPort(u.Hostname(), port))
	}
	if len(out) == 0 {
		loop := "127.0.0.1"
		if strings.Contains(host, ":") {
			loop = "::1"
		}
		out = append(out, scheme+"://"+net.JoinHostPort(loop, port))
	}
	return out
}
