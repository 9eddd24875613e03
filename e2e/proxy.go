package e2e

import (
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on 127.0.0.1 between one stanft member and NATS. Block
// cuts the member off: open connections are closed and new ones are accepted
// and closed at once, so the member's NATS client sees a disconnect and fails
// to reconnect until Unblock. Blackhole is the silent kind of partition: the
// connections stay open but no byte goes through in either direction (as
// behind a firewall that drops packets), so only timeouts can tell.
type Proxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu      sync.Mutex
	blocked bool
	gate    chan struct{} // closed while bytes may flow; open during Blackhole
	conns   map[net.Conn]struct{}
	closed  bool
	quit    chan struct{} // closed by Close
	wg      sync.WaitGroup
}

// NewProxy listens on a random loopback port and forwards to target
// ("host:port"). It is closed in t.Cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("e2e: proxy listen: %v", err)
	}
	p := &Proxy{t: t, ln: ln, target: target, conns: make(map[net.Conn]struct{}),
		gate: make(chan struct{}), quit: make(chan struct{})}
	close(p.gate)
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns the proxy as a NATS URL.
func (p *Proxy) URL() string { return "nats://" + p.Addr() }

// Block closes every proxied connection and refuses new ones until Unblock.
func (p *Proxy) Block() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Blackhole stops every byte in both directions, on open and new
// connections, without closing anything, until Unblock.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // already blackholed
	}
}

// Unblock lets connections and bytes through again.
func (p *Proxy) Unblock() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = false
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// wait blocks while the proxy is blackholed; false when it is closed.
func (p *Proxy) wait() bool {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	select {
	case <-gate:
		return true
	case <-p.quit:
		return false
	}
}

// Blocked reports whether the proxy is blocking.
func (p *Proxy) Blocked() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blocked
}

// Close stops the proxy and waits for its goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.quit)
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		p.mu.Lock()
		if p.blocked || p.closed {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.mu.Unlock()
		// A connection made during a blackhole hangs until Unblock; it is
		// handled in its own goroutine so the accept loop goes on.
		p.wg.Add(1)
		go p.connect(c)
	}
}

// connect dials NATS for an accepted connection and starts the pipes.
func (p *Proxy) connect(c net.Conn) {
	defer p.wg.Done()
	if !p.wait() {
		_ = c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.blocked || p.closed {
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.conns[c] = struct{}{}
	p.conns[up] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()
	go p.pipe(c, up)
	go p.pipe(up, c)
}

// pipe copies src to dst, holding bytes while blackholed; when either side
// ends both are closed.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				break
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break // reset or closed: the normal end of a cut connection
		}
	}
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}
