package idemhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemhttp"
)

func TestStreamingReachesTheClientAsWritten(t *testing.T) {
	t.Parallel()
	var c counter
	clientRead := make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		rc := http.NewResponseController(w)
		// Deadlines and full duplex reach the server's writer (Unwrap).
		for name, err := range map[string]error{
			"SetWriteDeadline": rc.SetWriteDeadline(time.Now().Add(time.Minute)),
			"SetReadDeadline":  rc.SetReadDeadline(time.Now().Add(time.Minute)),
			"EnableFullDuplex": rc.EnableFullDuplex(),
		} {
			if err != nil {
				t.Errorf("ResponseController.%s: %v", name, err)
			}
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: one\n\n")
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		// The client must see the first event before the handler goes
		// on: nothing holds the response back.
		select {
		case <-clientRead:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "event: two\n\n")
		w.(http.Flusher).Flush()
	}), nil)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/events", nil)
	hr.Header.Set("Authorization", defaultAuth)
	hr.Header.Set(idemhttp.HeaderKey, `"stream"`)
	res, err := e.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "event: one\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(clientRead)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\nevent: two\n\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}

	replay := e.do(req{key: "stream", path: "/events"})
	if !replay.replayed() || string(replay.body) != "event: one\n\nevent: two\n\n" || c.get("x") != 1 {
		t.Fatalf("replay %q (replayed %v), %d runs", replay.body, replay.replayed(), c.get("x"))
	}
}

func TestLargeResponses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		limit      int64 // Config.MaxResponseBytes
		size       int
		replayable bool
	}{
		// The stored header, Content-Type: application/octet-stream,
		// counts 36 bytes.
		{name: "default limit, at the limit", size: 1<<20 - 36, replayable: true},
		{name: "default limit, one byte over", size: 1<<20 - 35},
		{name: "small limit, at the limit", limit: 64 << 10, size: 64<<10 - 36, replayable: true},
		{name: "small limit, one byte over", limit: 64 << 10, size: 64<<10 - 35},
		{name: "small limit, far over", limit: 64 << 10, size: 3 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			body := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16+1)[:tc.size]
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.add("x")
				w.Header().Set("Content-Type", "application/octet-stream")
				w.WriteHeader(http.StatusCreated)
				for p := body; len(p) > 0; {
					n := min(len(p), 10_000)
					_, _ = w.Write(p[:n])
					p = p[n:]
					w.(http.Flusher).Flush()
				}
			}), &envOptions{mw: &idemhttp.Config{MaxResponseBytes: tc.limit}})

			first := e.do(req{key: "k"})
			if first.status != http.StatusCreated || !bytes.Equal(first.body, body) {
				t.Fatalf("first response: %d, %d bytes; want 201 and the whole body", first.status, len(first.body))
			}
			second := e.do(req{key: "k"})
			if c.get("x") != 1 {
				t.Fatalf("handler ran %d times", c.get("x"))
			}
			if tc.replayable {
				first.header.Del("Transfer-Encoding")
				second.header.Del("Content-Length")
				sameResponse(t, first, second)
				return
			}
			second.wantProblem(t, http.StatusConflict, idemhttp.ProblemNotReplayable)
			if p := second.problem(t); p["original_status"] != float64(http.StatusCreated) {
				t.Fatalf("original_status %v", p["original_status"])
			}
			rec, err := e.store.Get(context.Background(), recordKey("k"))
			if err != nil || len(rec.Value) > 1024 {
				t.Fatalf("marker record: %d bytes, %v", len(rec.Value), err)
			}
		})
	}
}

func TestTrailersAreReplayed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		body := []byte(strings.Repeat("payload ", 1000))
		_, _ = w.Write(body)
		sum := sha256.Sum256(body)
		w.Header().Set("X-Checksum", hex.EncodeToString(sum[:]))
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}), nil)
	first := e.do(req{key: "k"})
	replay := e.do(req{key: "k"})
	if first.trailer.Get("X-Checksum") == "" || first.trailer.Get("X-Late") != "late" {
		t.Fatalf("original trailers %v", first.trailer)
	}
	if !replay.replayed() || !bytes.Equal(first.body, replay.body) {
		t.Fatalf("replay body differs")
	}
	for _, k := range []string{"X-Checksum", "X-Late"} {
		if a, b := first.trailer.Get(k), replay.trailer.Get(k); a != b {
			t.Fatalf("trailer %s: replay %q, original %q", k, b, a)
		}
	}
}

func TestHijackedResponseIsNotReplayed(t *testing.T) {
	t.Parallel()
	var c counter
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nraw ok")
		_ = brw.Flush()
	}), &envOptions{mw: &idemhttp.Config{Wait: time.Minute}}) // the client may be done before the handler
	if r := e.do(req{key: "k"}); string(r.body) != "raw ok" {
		t.Fatalf("hijacked response %q", r.body)
	}
	e.do(req{key: "k"}).wantProblem(t, http.StatusConflict, idemhttp.ProblemNotReplayable)
	if c.get("x") != 1 {
		t.Fatalf("handler ran %d times", c.get("x"))
	}
}

func TestOtherKeysDoNotWait(t *testing.T) {
	t.Parallel()
	g := newGate()
	defer g.open()
	started := make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			g.block() // a long stream holds its own key only
		}
		_, _ = io.WriteString(w, r.URL.Path)
	}), nil)
	slow := make(chan *resp, 1)
	go func() { slow <- e.do(req{key: "slow", path: "/slow"}) }()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := e.send(ctx, req{key: "fast", path: "/fast"})
	if err != nil || string(r.body) != "/fast" {
		t.Fatalf("a request with another key waited on the running one: %v", err)
	}
	g.open()
	if r := <-slow; string(r.body) != "/slow" {
		t.Fatalf("slow request: %q", r.body)
	}
}

// Header and trailer bytes count toward MaxResponseBytes, like the body.
func TestHeaderAndTrailerBytesCount(t *testing.T) {
	t.Parallel()
	const limit = 1000
	for _, tc := range []struct {
		name            string
		header, trailer int // bytes of the value of X-Big, X-Sum
		replayable      bool
	}{
		// The body is 500 bytes, "Content-Type: t" 13, the names X-Big
		// and X-Sum 5 each: 477 are left for the two values.
		{"under the limit", 200, 200, true},
		{"at the limit", 239, 238, true},
		{"one byte over in the header", 240, 238, false},
		{"one byte over in the trailer", 239, 239, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.add("x")
				w.Header().Set("Content-Type", "t")
				w.Header().Set("X-Big", strings.Repeat("h", tc.header))
				w.Header().Set("Trailer", "X-Sum")
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, strings.Repeat("b", 500))
				w.Header().Set("X-Sum", strings.Repeat("t", tc.trailer))
			}), &envOptions{mw: &idemhttp.Config{MaxResponseBytes: limit, ReplayHeaders: []string{"X-Big", "X-Sum"}}})
			e.do(req{key: "k"})
			r := e.do(req{key: "k"})
			if c.get("x") != 1 {
				t.Fatalf("handler ran %d times", c.get("x"))
			}
			if !tc.replayable {
				r.wantProblem(t, http.StatusConflict, idemhttp.ProblemNotReplayable)
				return
			}
			if !r.replayed() || len(r.header.Get("X-Big")) != tc.header || len(r.trailer.Get("X-Sum")) != tc.trailer {
				t.Fatalf("replay: %d %v %v", r.status, r.header, r.trailer)
			}
		})
	}
}
