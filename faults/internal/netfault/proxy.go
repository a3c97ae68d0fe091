// Package netfault is a TCP proxy that injects network faults between a
// client and a server: delayed chunks, replies dropped after the server
// acted on the request, and connections cut before a request reaches the
// server. It is deliberately small: one listener, two copy loops per
// connection, one random source.
package netfault

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Faults are the probabilities of each fault, per chunk read from a
// connection. The zero value forwards everything untouched.
type Faults struct {
	// Delay is the probability that a chunk (either way) is held back for
	// a random time up to MaxDelay before it is forwarded.
	Delay    float64
	MaxDelay time.Duration
	// DropReply is the probability that a chunk from the server is
	// discarded and the connection then closed: the request was applied,
	// its reply is lost.
	DropReply float64
	// Cut is the probability that a chunk from the client is discarded and
	// the connection closed: the request never reaches the server.
	Cut float64
}

// Counts are the faults injected so far.
type Counts struct {
	Delayed, Dropped, Cut int64
}

// Total is the number of faults of every kind.
func (c Counts) Total() int64 { return c.Delayed + c.Dropped + c.Cut }

// Proxy forwards connections accepted on a loopback port to a target.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand
	counts Counts
	links  map[*link]struct{}
	closed bool

	wg sync.WaitGroup
}

type link struct{ client, server net.Conn }

func (l *link) close() {
	_ = l.client.Close()
	_ = l.server.Close()
}

// Start listens on a free loopback port and forwards to target. seed makes
// the fault decisions repeatable for one interleaving.
func Start(target string, seed uint64) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set replaces the fault probabilities; it applies to chunks read from now
// on, on every connection.
func (p *Proxy) Set(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
}

// Counts returns the faults injected so far.
func (p *Proxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// CutAll closes every open connection at once, as a network partition
// that heals at once would.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		l.close()
		delete(p.links, l)
		p.counts.Cut++
	}
}

// Close stops accepting, closes every connection and waits for the copy
// loops to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for l := range p.links {
		l.close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			l.close()
			return
		}
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(l, c, s, false)
		go p.pipe(l, s, c, true)
	}
}

// decision is what happens to one chunk.
type decision int

const (
	forward decision = iota
	drop             // discard the chunk and close the link
)

func (p *Proxy) decide(reply bool) (decision, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	switch {
	case reply && f.DropReply > 0 && p.rng.Float64() < f.DropReply:
		p.counts.Dropped++
		return drop, 0
	case !reply && f.Cut > 0 && p.rng.Float64() < f.Cut:
		p.counts.Cut++
		return drop, 0
	case f.Delay > 0 && f.MaxDelay > 0 && p.rng.Float64() < f.Delay:
		p.counts.Delayed++
		return forward, time.Duration(p.rng.Int64N(int64(f.MaxDelay)) + 1)
	}
	return forward, 0
}

// pipe copies chunks from src to dst, deciding a fault for each. reply
// tells whether src is the server.
func (p *Proxy) pipe(l *link, src, dst net.Conn, reply bool) {
	defer p.wg.Done()
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			d, delay := p.decide(reply)
			if d == drop {
				return
			}
			if delay > 0 {
				time.Sleep(delay)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed link: close the other side too
		}
	}
}
