package testutil

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TCPProxy forwards connections from a loopback port to a target address,
// and can cut them: Cut closes every open connection and closes each new
// one at once (a server that went away, as a client sees it while it
// restarts); Restore forwards again. Stall holds every byte in both
// directions without closing anything (a slow or overloaded server) until
// Resume. Tests put one between a process and PostgreSQL or Redis to take
// the service away from that process alone.
type TCPProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	gate  chan struct{} // closed while bytes flow; open (blocking) while stalled
	wg    sync.WaitGroup
}

// NewTCPProxy listens on 127.0.0.1 (a free port) and forwards to target
// (host:port) until t ends.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &TCPProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, gate: make(chan struct{})}
	close(p.gate)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.Resume()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

func (p *TCPProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// track adds c to the open connections, or closes it and reports false
// while the proxy is cut.
func (p *TCPProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *TCPProxy) forward(c net.Conn) {
	defer p.wg.Done()
	if !p.track(c) {
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil || !p.track(up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		p.untrack(c)
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(gated{dst, p}, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done // one side ended: end both
	c.Close()
	up.Close()
	<-done
	p.untrack(c, up)
}

func (p *TCPProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// Cut closes every forwarded connection and refuses new ones (accepted,
// then closed at once) until Restore.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Stall holds every byte read from either side, on open and new
// connections, until Resume: nothing is closed or lost.
func (p *TCPProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // already stalled
	}
}

// Resume forwards the bytes Stall held, and every byte after them.
func (p *TCPProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// gated writes to w once the proxy's gate is open.
type gated struct {
	w net.Conn
	p *TCPProxy
}

func (g gated) Write(b []byte) (int, error) {
	g.p.mu.Lock()
	gate := g.p.gate
	g.p.mu.Unlock()
	<-gate
	return g.w.Write(b)
}

// Restore forwards new connections again.
func (p *TCPProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}
