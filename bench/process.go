package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// The process layout (-layout process) runs every server the way it is
// deployed: the stanft binary in its own process with its own embedded NATS
// server, and the null STAN responder in a process of its own (on the first
// stanft's NATS). Only the clients (stan.go, and core NATS's
// publisher and responder) run in the bench process. CPU per message then
// sums this process and every server process.

// children are the server processes whose CPU counts in cpuNow.
var children struct {
	mu   sync.Mutex
	pids []int
}

// childrenCPU returns the user+system CPU time of the server processes.
func childrenCPU() time.Duration {
	children.mu.Lock()
	defer children.mu.Unlock()
	var total time.Duration
	for _, pid := range children.pids {
		total += procCPU(pid)
	}
	return total
}

// procCPU reads utime+stime of pid from /proc (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// procServer is one server process.
type procServer struct {
	cmd *exec.Cmd
}

func (p *procServer) close() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// startProc starts a server process and registers it for CPU accounting.
func startProc(name string, args ...string) (*procServer, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	children.mu.Lock()
	children.pids = append(children.pids, cmd.Process.Pid)
	children.mu.Unlock()
	return &procServer{cmd: cmd}, nil
}

// buildStanft builds the stanft binary into dir.
func buildStanft(dir string) (string, error) {
	bin := filepath.Join(dir, "stanft")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/stanft/stanft/cmd/stanft").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("bench: go build stanft: %w: %s", err, out)
	}
	return bin, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stanftArgs are the flags of a stanft process serving cid on store k,
// with the limits lifted as benchLimits does in process.
func stanftArgs(k storeKind, cid, dir string) []string {
	args := []string{"-cid", cid, "-mc", "0", "-mm", "0", "-mb", "0"}
	if k.file {
		args = append(args, "-st", "FILE", "--dir", dir, "--file_sync="+strconv.FormatBool(k.doSync))
	}
	return args
}

// startStanftProcs starts one stanft process per kind, each embedding its
// own NATS server as a deployed stanft does by default. It returns their
// NATS URLs.
func startStanftProcs(bin, dir string, kinds []storeKind) ([]string, []*procServer, error) {
	var urls []string
	var procs []*procServer
	for i, k := range kinds {
		port, err := freePort()
		if err != nil {
			closeAll(procs)
			return nil, nil, err
		}
		url := fmt.Sprintf("nats://127.0.0.1:%d", port)
		args := stanftArgs(k, fmt.Sprintf("bench-%d", i), filepath.Join(dir, fmt.Sprintf("store-%d", i)))
		args = append(args, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
		b := bin
		if k.bin != "" {
			b = k.bin
		}
		p, err := startProc(b, args...)
		if err != nil {
			closeAll(procs)
			return nil, nil, err
		}
		procs = append(procs, p)
		if err := waitStan(url, fmt.Sprintf("bench-%d", i)); err != nil {
			closeAll(procs)
			return nil, nil, fmt.Errorf("%s process: %w", k.name, err)
		}
		urls = append(urls, url)
	}
	return urls, procs, nil
}

func closeAll(ps []*procServer) {
	for _, p := range ps {
		p.close()
	}
}

// waitStan waits until the STAN server cid answers on url.
func waitStan(url, cid string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if nc, err := nats.Connect(url, nats.Timeout(time.Second)); err == nil {
			sc, err := connect(url, cid)
			nc.Close()
			if err == nil {
				_ = sc.Close()
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: STAN server %q not serving on %s after 30 s", cid, url)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startNullProc runs the null STAN responder in a child process (this
// binary with -null-server) and waits until it answers.
func startNullProc(url, cid string) (*procServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	p, err := startProc(self, "-null-server", url, "-null-cid", cid)
	if err != nil {
		return nil, err
	}
	if err := waitStan(url, cid); err != nil {
		p.close()
		return nil, fmt.Errorf("null server process: %w", err)
	}
	return p, nil
}

// runNullChild serves the null STAN responder until SIGINT or SIGTERM
// (child process of startNullProc).
func runNullChild(url, cid string) int {
	ns, err := startNullServer(url, cid)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ns.close()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	return 0
}
