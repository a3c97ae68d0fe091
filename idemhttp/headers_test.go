package idemhttp_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency/idemhttp"
)

// A handler may set headers in the map directly, under names that are
// not in canonical form; net/http sends them as they are, and a client
// reads them case-insensitively. The headers that are never stored
// (SensitiveHeaders, OmitHeaders, hop-by-hop) stay out of the store and
// the replay whatever their case, and an allowlist (ReplayHeaders)
// matches names whatever their case.
func TestHeaderNamesInAnyCase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cfg      idemhttp.Config
		set      map[string]string // as set in the map
		replayed []string          // canonical names the replay carries
		kept     []string          // values that may reach the store
	}{
		{"sensitive", idemhttp.Config{},
			map[string]string{"set-cookie": "sid=secret-1", "SET-COOKIE": "sid=secret-2", "authentication-info": "nextnonce=secret-3", "x-plain": "plain"},
			[]string{"X-Plain"}, []string{"plain"}},
		{"omitted", idemhttp.Config{OmitHeaders: []string{"X-Request-Id"}},
			map[string]string{"x-request-id": "secret-4", "X-REQUEST-ID": "secret-5", "x-plain": "plain"},
			[]string{"X-Plain"}, []string{"plain"}},
		{"hop-by-hop", idemhttp.Config{},
			map[string]string{"keep-alive": "secret-6", "x-plain": "plain"},
			[]string{"X-Plain"}, []string{"plain"}},
		{"listed in connection", idemhttp.Config{},
			map[string]string{"connection": "X-Hop", "x-hop": "secret-8", "x-plain": "plain"},
			[]string{"X-Plain"}, []string{"plain"}},
		{"allowlist", idemhttp.Config{ReplayHeaders: []string{"X-Allowed"}},
			map[string]string{"x-allowed": "allowed", "x-other": "secret-7"},
			[]string{"X-Allowed"}, []string{"allowed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.add("x")
				for k, v := range tc.set {
					w.Header()[k] = []string{v}
				}
				w.WriteHeader(http.StatusCreated)
			}), &envOptions{mw: &tc.cfg})
			first := e.do(req{key: "k"})
			replay := e.do(req{key: "k"})
			if !replay.replayed() || c.get("x") != 1 {
				t.Fatalf("retry: %d replayed=%v after %d runs", replay.status, replay.replayed(), c.get("x"))
			}
			want := map[string]bool{idemhttp.HeaderReplayed: true, "Date": true, "Content-Length": true, "Content-Type": true}
			for _, k := range tc.replayed {
				want[k] = true
				if replay.header.Get(k) != first.header.Get(k) {
					t.Errorf("%s: replayed %q, first %q", k, replay.header.Get(k), first.header.Get(k))
				}
			}
			for k := range replay.header {
				if !want[k] {
					t.Errorf("replay carries %s: %q", k, replay.header[k])
				}
			}
			rec, err := e.guard.Lookup(context.Background(), recordKey("k"))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tc.set {
				if bytes.Contains(rec.Value, []byte(v)) && !contains(tc.kept, v) {
					t.Errorf("the store holds %q: %s", v, rec.Value)
				}
			}
		})
	}
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// Field values may carry bytes outside ASCII (obs-text: a Latin-1 file
// name); net/http sends them as they are, and a replay is byte for byte
// the same, headers and trailers, through the default JSON codec, which
// would replace bytes that are not UTF-8.
func TestHeaderValuesNotUTF8(t *testing.T) {
	t.Parallel()
	const latin1 = "attachment; filename=\"caf\xe9.txt\""
	var c counter
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Add("Content-Disposition", latin1)
		w.Header().Add("X-Mixed", "plain")
		w.Header().Add("X-Mixed", "\xff\xfe")
		w.Header().Set("X-Utf8", "caf\u00e9")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("body"))
		w.Header().Set("X-Sum", "sum\x80")
	}), nil)
	first := e.do(req{key: "k"})
	if first.header.Get("Content-Disposition") != latin1 || first.trailer.Get("X-Sum") != "sum\x80" {
		t.Fatalf("first: %q %q", first.header, first.trailer)
	}
	replay := e.do(req{key: "k"})
	sameResponse(t, first, replay)
	if !headersEqual(first.trailer, replay.trailer) {
		t.Fatalf("trailers: replay %q, first %q", replay.trailer, first.trailer)
	}
	if n := c.get("x"); n != 1 {
		t.Fatalf("handler ran %d times", n)
	}
}

// An outer middleware that sets the Content-Type of every response (chi's
// middleware.SetHeader("Content-Type", "application/json")) sets it on
// the replay too; the replay must not take it away because the record
// holds no Content-Type of the handler's own. A handler that removes the
// type (to keep net/http from sniffing one) still replays without it.
func TestOuterContentTypeIsKeptOnReplay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		handle func(w http.ResponseWriter)
		want   []string
	}{
		{"handler leaves it", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"ok":true}`)) }, []string{"application/json"}},
		{"handler sets another", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/csv")
			_, _ = w.Write([]byte("a,b"))
		}, []string{"text/csv"}},
		{"handler removes it", func(w http.ResponseWriter) {
			w.Header()["Content-Type"] = nil
			_, _ = w.Write([]byte("<html>"))
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.add("x")
				tc.handle(w)
			}), &envOptions{outer: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					h.ServeHTTP(w, r)
				})
			}})
			first := e.do(req{key: "k"})
			replay := e.do(req{key: "k"})
			if !replay.replayed() || c.get("x") != 1 {
				t.Fatalf("retry: %d replayed=%v after %d runs", replay.status, replay.replayed(), c.get("x"))
			}
			if got := first.header["Content-Type"]; strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("first: Content-Type %q, want %q", got, tc.want)
			}
			sameResponse(t, first, replay)
		})
	}
}

// Header names count toward MaxResponseBytes even without values: a
// handler that sets many names with no value (which net/http does not
// send) can not grow the record past the limit; such names are not stored
// at all, but for a Content-Type the handler removed.
func TestHeaderNamesWithoutValues(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	var c counter
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		for i := range 20000 {
			w.Header()["X-Empty-"+itoa(i)] = []string{}
		}
		w.Header()["Content-Type"] = nil
		_, _ = w.Write([]byte("<html>"))
	}), &envOptions{mw: &idemhttp.Config{MaxResponseBytes: limit}})
	first := e.do(req{key: "k"})
	replay := e.do(req{key: "k"})
	sameResponse(t, first, replay)
	rec, err := e.guard.Lookup(context.Background(), recordKey("k"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Value) > limit {
		t.Fatalf("record of %d bytes, over the limit of %d", len(rec.Value), limit)
	}
	if c.get("x") != 1 {
		t.Fatalf("handler ran %d times", c.get("x"))
	}
}

// net/http sends a header value with its line breaks turned to spaces and
// its ends trimmed, and drops a header whose name is not a token; the
// record holds what was sent, so that a replay is the response and a
// stored value is never refused as a forgery (500 for every retry).
func TestHeadersAsNetHTTPSendsThem(t *testing.T) {
	t.Parallel()
	var c counter
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.add("x")
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("X-Error", "line one\nline two\r\nline three")
		w.Header().Set("X-Padded", "  padded\t")
		w.Header()["X-Custom:"] = []string{"typo"}
		w.Header()["Bad Name"] = []string{"v"}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("paid"))
		w.Header().Set("X-Sum", "a\nb")
	}), nil)
	first := e.do(req{key: "k"})
	if first.status != http.StatusCreated || first.header.Get("X-Error") != "line one line two  line three" {
		t.Fatalf("first: %d %q", first.status, first.header)
	}
	replay := e.do(req{key: "k"})
	sameResponse(t, first, replay)
	if !headersEqual(first.trailer, replay.trailer) {
		t.Fatalf("trailers: replay %q, first %q", replay.trailer, first.trailer)
	}
	if c.get("x") != 1 {
		t.Fatalf("handler ran %d times", c.get("x"))
	}
}
