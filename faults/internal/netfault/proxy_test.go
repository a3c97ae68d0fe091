package netfault

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// echo starts a line echo server that counts the lines it received.
func echo(t *testing.T) (addr string, got chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan string, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					got <- line
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), got
}

func roundTrip(t *testing.T, addr, line string) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(line)); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestProxy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		faults    Faults
		wantReply bool // the client gets its echo
		wantSeen  bool // the server received the request
		count     func(Counts) int64
	}{
		{"clean", Faults{}, true, true, func(Counts) int64 { return 0 }},
		{"delay", Faults{Delay: 1, MaxDelay: 20 * time.Millisecond}, true, true, func(c Counts) int64 { return c.Delayed }},
		{"drop reply", Faults{DropReply: 1}, false, true, func(c Counts) int64 { return c.Dropped }},
		{"cut", Faults{Cut: 1}, false, false, func(c Counts) int64 { return c.Cut }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target, got := echo(t)
			p, err := Start(target, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			p.Set(tt.faults)
			reply, err := roundTrip(t, p.Addr(), "hello\n")
			if tt.wantReply != (err == nil && reply == "hello\n") {
				t.Fatalf("reply %q, %v; want a reply: %v", reply, err, tt.wantReply)
			}
			if !tt.wantReply && err != io.EOF {
				t.Errorf("error %v; want EOF (the proxy closed the connection)", err)
			}
			select {
			case <-got:
				if !tt.wantSeen {
					t.Error("the server received a request the proxy should have cut")
				}
			case <-time.After(200 * time.Millisecond):
				if tt.wantSeen {
					t.Error("the server did not receive the request")
				}
			}
			if n := tt.count(p.Counts()); (n > 0) != (tt.name != "clean") || n > 2 {
				t.Errorf("counts %+v: want this fault counted once or twice", p.Counts())
			}
		})
	}
}

func TestProxyCutAll(t *testing.T) {
	t.Parallel()
	target, _ := echo(t)
	p, err := Start(target, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p.CutAll()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Fatalf("read after CutAll: %v; want EOF", err)
	}
	if p.Counts().Cut != 1 {
		t.Fatalf("counts %+v; want one cut", p.Counts())
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
