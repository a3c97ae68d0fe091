package testserver

import (
	"bytes"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a loopback TCP proxy in front of a server, for tests of what a
// client does when the network fails: it can lose the replies of chosen
// requests (the server has executed them; the client never hears back and
// its connection is cut), cut every open connection, delay traffic, and
// inject faults at random ([Proxy.SetFaults]).
//
// It assumes a request/reply protocol in which a client connection waits
// for the reply before sending its next request (Redis and PostgreSQL
// clients outside pipelines do): whatever the server sends on a connection
// after a request was forwarded is that request's reply.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	conns   map[*proxyConn]struct{}
	drops   []*Drop // armed, oldest first
	dropped int
	delay   time.Duration
	faults  Faults
	rng     *rand.Rand
	counts  FaultCounts
	closed  bool
	wg      sync.WaitGroup
}

// Faults are the probabilities of random faults, per chunk read from a
// connection. The zero value injects none.
type Faults struct {
	// Delay is the probability that a chunk (either way) is held back for
	// a random time up to MaxDelay before it is forwarded.
	Delay    float64
	MaxDelay time.Duration
	// DropReply is the probability that a chunk from the server is
	// discarded and the connection then cut: the request was applied, its
	// reply is lost.
	DropReply float64
	// Cut is the probability that a chunk from the client is discarded and
	// the connection cut: the request never reaches the server.
	Cut float64
}

// FaultCounts are the random faults a Proxy injected so far.
type FaultCounts struct {
	Delayed, Dropped, Cut int64
}

// Total is the number of random faults of every kind.
func (c FaultCounts) Total() int64 { return c.Delayed + c.Dropped + c.Cut }

// Drop selects requests whose replies a Proxy loses; see Proxy.DropReplies.
type Drop struct {
	// Match selects requests by a byte string that one packet of the
	// request contains, compared byte for byte: a command name as the
	// client writes it (go-redis writes "evalsha"), a key; empty matches
	// any request, connection handshakes included. Requests that do not
	// match pass untouched.
	Match string
	// Count is how many matching requests lose their replies. Default 1.
	Count int
	// Lost, when set, is called for each lost reply after the server's
	// reply arrived (so the request has been executed) and before the
	// client's connection is cut (so the client has not retried yet):
	// a test can change the server's state in between.
	Lost func()
}

// proxyConn is one client connection and its connection to the server.
type proxyConn struct {
	client, server net.Conn
	mu             sync.Mutex
	lose           *Drop // the reply now awaited is to be lost
}

// StartProxy starts a proxy on a free loopback port that forwards every
// connection to target ("host:port"), and registers a cleanup that closes
// it and every connection through it.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: proxy listen: %v", err)
	}
	p := &Proxy{target: target, ln: ln, conns: make(map[*proxyConn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's "127.0.0.1:port", to give to clients.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// DropReplies arms d: the next d.Count requests matching d.Match reach the
// server, and their replies are discarded and their connections cut, as a
// network failure after the server executed a request would. Drops armed
// earlier are served first.
func (p *Proxy) DropReplies(d Drop) {
	if d.Count <= 0 {
		d.Count = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drops = append(p.drops, &d)
}

// Dropped returns how many replies the proxy has lost so far.
func (p *Proxy) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// Pending returns how many armed reply losses have not happened yet.
func (p *Proxy) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, d := range p.drops {
		n += d.Count
	}
	return n
}

// Cut closes every connection open through the proxy now; clients see
// them reset. New connections are accepted as before.
func (p *Proxy) Cut() {
	p.mu.Lock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// SetDelay makes the proxy hold every packet, in both directions, for d
// before forwarding it; 0 forwards at once.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// SetFaults replaces the probabilities of random faults; they apply to
// chunks read from now on, on every connection. seed makes the decisions
// repeatable for one interleaving.
func (p *Proxy) SetFaults(f Faults, seed uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
	p.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// FaultCounts returns the random faults injected so far.
func (p *Proxy) FaultCounts() FaultCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// Close stops accepting, cuts every connection and waits for the proxy's
// goroutines. It is safe to call more than once.
func (p *Proxy) Close() {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	p.mu.Unlock()
	if !already {
		_ = p.ln.Close()
	}
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		c := &proxyConn{client: client, server: server}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.close()
			return
		}
		p.conns[c] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.requests(c)
		go p.replies(c)
	}
}

// requests copies the client's packets to the server, marking the
// connection when a packet matches an armed Drop.
func (p *Proxy) requests(c *proxyConn) {
	defer p.wg.Done()
	defer p.forget(c)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			if !p.hold(false) {
				return // cut: forget closes both sides
			}
			p.match(c, buf[:n])
			if _, werr := c.server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// match arms c to lose its next reply when pkt matches the oldest armed
// Drop that it can match.
func (p *Proxy) match(c *proxyConn, pkt []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lose != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, d := range p.drops {
		if d.Match != "" && !bytes.Contains(pkt, []byte(d.Match)) {
			continue
		}
		c.lose = d
		if d.Count--; d.Count == 0 {
			p.drops = append(p.drops[:i], p.drops[i+1:]...)
		}
		return
	}
}

// replies copies the server's packets to the client, or loses the reply
// the connection was marked for and cuts it.
func (p *Proxy) replies(c *proxyConn) {
	defer p.wg.Done()
	defer p.forget(c)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			c.mu.Lock()
			d := c.lose
			c.mu.Unlock()
			if d != nil {
				p.mu.Lock()
				p.dropped++
				p.mu.Unlock()
				if d.Lost != nil {
					d.Lost()
				}
				return // forget cuts both sides
			}
			if !p.hold(true) {
				return
			}
			if _, werr := c.client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// hold delays a chunk read from the server (reply) or the client as set,
// and reports false when a random fault discards it.
func (p *Proxy) hold(reply bool) bool {
	p.mu.Lock()
	d, f := p.delay, p.faults
	switch {
	case p.rng == nil:
	case reply && f.DropReply > 0 && p.rng.Float64() < f.DropReply:
		p.counts.Dropped++
		p.mu.Unlock()
		return false
	case !reply && f.Cut > 0 && p.rng.Float64() < f.Cut:
		p.counts.Cut++
		p.mu.Unlock()
		return false
	case f.Delay > 0 && f.MaxDelay > 0 && p.rng.Float64() < f.Delay:
		p.counts.Delayed++
		d += time.Duration(p.rng.Int64N(int64(f.MaxDelay)) + 1)
	}
	p.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
	return true
}

func (p *Proxy) forget(c *proxyConn) {
	c.close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (c *proxyConn) close() {
	_ = c.client.Close()
	_ = c.server.Close()
}
