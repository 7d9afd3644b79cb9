// Package netfault is an in-process TCP proxy for tests that injects
// network faults between a client and a server: added latency, connection
// resets and a blackhole.
//
//	p, err := netfault.Listen("127.0.0.1:5432")
//	defer p.Close()
//	// point the client at p.Addr() instead of the server
//	p.SetLatency(20 * time.Millisecond) // each direction
//	p.Reset()                           // RST every open connection
//	p.Blackhole()                       // stop forwarding, keep sockets open
//	p.Heal()                            // forward again, no latency
//
// A blackhole models a network partition under TCP: the proxy stops reading
// and writing, so bytes already sent wait (in the proxy and in the kernels'
// buffers) and the sender blocks once the buffers are full; nothing is
// dropped, and when the partition heals every byte is delivered in order, as
// TCP's retransmission would do. New connections are accepted during a
// blackhole but carry nothing until it heals. A connection whose client went
// away during the blackhole is closed towards the server after the heal,
// once what the client sent before it left has been delivered.
package netfault

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards TCP connections from its listening address to a target.
// Its methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	links   map[*link]struct{}
	latency time.Duration
	gate    chan struct{} // closed while forwarding; open during a blackhole
	closed  bool

	accepted atomic.Int64
	wg       sync.WaitGroup
}

// Listen starts a proxy on a free 127.0.0.1 port forwarding to target.
func Listen(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	gate := make(chan struct{})
	close(gate)
	p := &Proxy{target: target, ln: ln, links: map[*link]struct{}{}, gate: gate}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's listening address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's listening port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Accepted is the number of client connections accepted so far.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Conns is the number of connections open now.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// SetLatency delays every chunk of data by d in each direction (a round
// trip costs 2d). Data keeps its order; throughput is not capped.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// Blackhole stops forwarding in both directions on every connection, open
// or new, until Heal. Sockets stay open.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // already blackholed
	}
}

// Heal ends a blackhole and removes any latency.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = 0
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Reset aborts every open connection with a TCP RST on both sides (as a
// middlebox or a peer's crash would) and returns how many there were. New
// connections are forwarded as usual.
func (p *Proxy) Reset() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.abort()
	}
	return len(links)
}

// Close stops accepting, resets every connection and waits until all of
// the proxy's goroutines have ended.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Reset()
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.accepted.Add(1)
		l := &link{p: p, client: c, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go l.run()
	}
}

func (p *Proxy) state() (gate chan struct{}, latency time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gate, p.latency
}

// link is one proxied connection.
type link struct {
	p      *Proxy
	client net.Conn
	done   chan struct{} // closed by abort

	mu     sync.Mutex
	server net.Conn
	once   sync.Once
}

// chunk is data read from one side, due for writing to the other at due.
type chunk struct {
	data []byte
	due  time.Time
}

func (l *link) run() {
	defer l.p.wg.Done()
	defer func() {
		l.abort()
		l.p.mu.Lock()
		delete(l.p.links, l)
		l.p.mu.Unlock()
	}()
	// During a blackhole even the connect waits: the server sees nothing.
	if !l.waitGate() {
		return
	}
	server, err := net.DialTimeout("tcp", l.p.target, 10*time.Second)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.server = server
	l.mu.Unlock()
	select {
	case <-l.done: // aborted while dialling
		server.Close()
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.pipe(server, l.client) }()
	go func() { defer wg.Done(); l.pipe(l.client, server) }()
	wg.Wait()
}

// waitGate blocks while the proxy is blackholed; false when the link was
// aborted meanwhile.
func (l *link) waitGate() bool {
	for {
		gate, _ := l.p.state()
		select {
		case <-gate:
			// The gate may have been replaced (healed and blackholed
			// again) while we waited; look once more.
			if g, _ := l.p.state(); g == gate {
				return true
			}
		case <-l.done:
			return false
		}
	}
}

// pipe copies src to dst, honouring latency and blackholes, until either
// side fails; then it closes the whole link.
func (l *link) pipe(dst, src net.Conn) {
	queue := make(chan chunk, 64)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				_, lat := l.p.state()
				select {
				case queue <- chunk{data: buf[:n], due: time.Now().Add(lat)}:
				case <-l.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		l.close()
		for range queue { // let the reader end
		}
	}()
	for c := range queue {
		if d := time.Until(c.due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return
			}
		}
		if !l.waitGate() {
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			return
		}
	}
	// src ended (EOF or error) and everything read was delivered.
}

// close ends the link gracefully (FIN on both sides).
func (l *link) close() { l.end(false) }

// abort ends the link with an RST on both sides.
func (l *link) abort() { l.end(true) }

func (l *link) end(rst bool) {
	l.once.Do(func() {
		close(l.done)
		l.mu.Lock()
		server := l.server
		l.mu.Unlock()
		for _, c := range []net.Conn{l.client, server} {
			if c == nil {
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok && rst {
				tc.SetLinger(0) // fails only on a closed connection, which Close leaves as it is
			}
			c.Close()
		}
	})
}
