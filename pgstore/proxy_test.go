package pgstore_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// replyDropper is a TCP proxy in front of the server that reads the
// PostgreSQL protocol both ways. Armed, it lets the next query (Execute or
// simple Query) reach the server, swallows the server's whole reply up to
// ReadyForQuery, sent after the server committed, and cuts that
// connection: a reply lost on the way after the statement took effect.
// With keepResults, it passes the reply's results on and loses only its
// ReadyForQuery: a connection cut as the reply ends.
type replyDropper struct {
	ln          net.Listener
	target      string
	armed       atomic.Bool
	keepResults atomic.Bool
	dropped     atomic.Int64
	executes    atomic.Int64 // queries clients sent

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newReplyDropper(t testing.TB, target string) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyDropper{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *replyDropper) addr() string { return p.ln.Addr().String() }

func (p *replyDropper) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		var drop, keep atomic.Bool
		p.wg.Add(2)
		go func() { // client to server
			defer p.wg.Done()
			defer s.Close()
			untyped := true // the startup message has no type byte
			for {
				typ, msg, err := readMessage(c, untyped)
				if err != nil {
					return
				}
				untyped = false
				if typ == 'E' || typ == 'Q' {
					p.executes.Add(1)
					if p.armed.CompareAndSwap(true, false) {
						keep.Store(p.keepResults.Load())
						drop.Store(true)
					}
				}
				if _, err := s.Write(msg); err != nil {
					return
				}
			}
		}()
		go func() { // server to client
			defer p.wg.Done()
			defer c.Close()
			for {
				typ, msg, err := readMessage(s, false)
				if err != nil {
					return
				}
				if drop.Load() {
					if typ == 'Z' { // the reply is complete: lose it
						p.dropped.Add(1)
						s.Close()
						return
					}
					if !keep.Load() {
						continue
					}
				}
				if _, err := c.Write(msg); err != nil {
					return
				}
			}
		}()
	}
}

// readMessage reads one protocol message, returning its type and bytes.
func readMessage(r io.Reader, untyped bool) (byte, []byte, error) {
	head := 5
	if untyped {
		head = 4
	}
	buf := make([]byte, head)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(buf[head-4:]))
	msg := make([]byte, head-4+n)
	copy(msg, buf)
	if _, err := io.ReadFull(r, msg[head:]); err != nil {
		return 0, nil, err
	}
	if untyped {
		return 0, msg, nil
	}
	return buf[0], msg, nil
}

func (p *replyDropper) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// droppingPool returns a pool of dsn whose connections go through a new
// replyDropper, traced by the tracer trace makes for that dropper (the
// tracer arms it before the statement whose reply is to be lost).
func droppingPool(t *testing.T, ctx context.Context, trace func(*replyDropper) pgx.QueryTracer) (*pgxpool.Pool, *replyDropper) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newReplyDropper(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	host, port, _ := net.SplitHostPort(proxy.addr())
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
	cfg.ConnConfig.Tracer = trace(proxy)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, proxy
}
