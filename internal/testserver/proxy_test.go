package testserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lineServer answers every line it reads with "ok N", N counting the
// lines it has executed, like a server executing requests.
type lineServer struct {
	ln   net.Listener
	runs atomic.Int64
	wg   sync.WaitGroup
}

func startLineServer(t *testing.T) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					fmt.Fprintf(c, "ok %d\n", s.runs.Add(1))
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// lineClient is one connection through the proxy.
type lineClient struct {
	c net.Conn
	r *bufio.Reader
}

func dialLine(t *testing.T, addr string) *lineClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &lineClient{c: c, r: bufio.NewReader(c)}
}

// call sends a request and returns its reply, or the read error.
func (l *lineClient) call(req string) (string, error) {
	if _, err := io.WriteString(l.c, req+"\n"); err != nil {
		return "", err
	}
	s, err := l.r.ReadString('\n')
	return strings.TrimSpace(s), err
}

func TestProxy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, srv *lineServer, p *Proxy)
	}{
		{"forwards", func(t *testing.T, srv *lineServer, p *Proxy) {
			c := dialLine(t, p.Addr())
			for i := 1; i <= 3; i++ {
				if got, err := c.call("x"); err != nil || got != fmt.Sprintf("ok %d", i) {
					t.Fatalf("request %d: %q, %v", i, got, err)
				}
			}
		}},
		{"lost reply: executed, connection cut", func(t *testing.T, srv *lineServer, p *Proxy) {
			c := dialLine(t, p.Addr())
			p.DropReplies(Drop{Match: "lose"})
			if got, err := c.call("keep"); err != nil || got != "ok 1" {
				t.Fatalf("request not matching: %q, %v", got, err)
			}
			if got, err := c.call("lose me"); err == nil {
				t.Fatalf("matching request got reply %q, want a cut connection", got)
			}
			if n := srv.runs.Load(); n != 2 {
				t.Fatalf("server executed %d requests, want 2 (the lost reply's request ran)", n)
			}
			if p.Dropped() != 1 || p.Pending() != 0 {
				t.Fatalf("dropped %d, pending %d; want 1, 0", p.Dropped(), p.Pending())
			}
			if got, err := dialLine(t, p.Addr()).call("lose again"); err != nil || got != "ok 3" {
				t.Fatalf("request after the drop was used up: %q, %v", got, err)
			}
		}},
		{"count and hook", func(t *testing.T, srv *lineServer, p *Proxy) {
			var mu sync.Mutex
			var hooks []int64
			p.DropReplies(Drop{Count: 2, Lost: func() {
				mu.Lock()
				defer mu.Unlock()
				hooks = append(hooks, srv.runs.Load())
			}})
			for i := range 2 {
				if got, err := dialLine(t, p.Addr()).call("x"); err == nil {
					t.Fatalf("request %d got %q, want its reply lost", i, got)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(hooks) != "[1 2]" {
				t.Fatalf("Lost hook saw executions %v, want [1 2]", hooks)
			}
			if got, err := dialLine(t, p.Addr()).call("x"); err != nil || got != "ok 3" {
				t.Fatalf("third request: %q, %v", got, err)
			}
		}},
		{"cut", func(t *testing.T, srv *lineServer, p *Proxy) {
			c := dialLine(t, p.Addr())
			if _, err := c.call("x"); err != nil {
				t.Fatal(err)
			}
			p.Cut()
			if got, err := c.call("x"); err == nil {
				t.Fatalf("request on a cut connection got %q", got)
			}
			if got, err := dialLine(t, p.Addr()).call("x"); err != nil || !strings.HasPrefix(got, "ok ") {
				t.Fatalf("new connection after Cut: %q, %v", got, err)
			}
		}},
		{"delay", func(t *testing.T, srv *lineServer, p *Proxy) {
			p.SetDelay(20 * time.Millisecond)
			start := time.Now()
			if got, err := dialLine(t, p.Addr()).call("x"); err != nil || got != "ok 1" {
				t.Fatalf("delayed request: %q, %v", got, err)
			}
			// Two packets each held 20ms: a lower bound only.
			if d := time.Since(start); d < 40*time.Millisecond {
				t.Fatalf("request and reply took %v through a 20ms delay each way", d)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startLineServer(t)
			tc.run(t, srv, StartProxy(t, srv.ln.Addr().String()))
		})
	}
}

// TestProxyFaults: each random fault, made certain, does what it says and
// is counted: a delayed request is executed and answered, a dropped reply
// was executed and never answered, a cut request never reaches the server.
func TestProxyFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		faults    Faults
		wantReply bool  // the client gets its answer
		wantRuns  int64 // the server executed the request
		count     func(FaultCounts) int64
	}{
		{"clean", Faults{}, true, 1, func(FaultCounts) int64 { return 0 }},
		{"delay", Faults{Delay: 1, MaxDelay: 20 * time.Millisecond}, true, 1, func(c FaultCounts) int64 { return c.Delayed }},
		{"drop reply", Faults{DropReply: 1}, false, 1, func(c FaultCounts) int64 { return c.Dropped }},
		{"cut", Faults{Cut: 1}, false, 0, func(c FaultCounts) int64 { return c.Cut }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startLineServer(t)
			p := StartProxy(t, srv.ln.Addr().String())
			p.SetFaults(tt.faults, 1)
			reply, err := dialLine(t, p.Addr()).call("hello")
			if tt.wantReply != (err == nil && reply == "ok 1") {
				t.Fatalf("reply %q, %v; want a reply: %v", reply, err, tt.wantReply)
			}
			if !tt.wantReply && err != io.EOF {
				t.Errorf("error %v; want EOF (the proxy cut the connection)", err)
			}
			p.Close() // every chunk forwarded or discarded
			if n := srv.runs.Load(); n != tt.wantRuns {
				t.Errorf("server executed %d requests, want %d", n, tt.wantRuns)
			}
			if n := tt.count(p.FaultCounts()); (n > 0) != (tt.name != "clean") || n > 2 {
				t.Errorf("counts %+v: want this fault counted once or twice", p.FaultCounts())
			}
		})
	}
}
