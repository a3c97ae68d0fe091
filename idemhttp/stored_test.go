package idemhttp

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
)

// FuzzStoredResponse feeds the replay path records as a store could hold
// them, written by anyone: a record is either refused as corrupt or
// replayed exactly, never half-written or with a forged header.
func FuzzStoredResponse(f *testing.F) {
	for _, s := range []storedResponse{
		{Status: 201, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"id":1}`)},
		{Status: 204},
		{Status: 200, Header: http.Header{"X-A": {"a\r\nSet-Cookie: x"}}},
		{Status: 200, Header: http.Header{"Bad Name": {"v"}}},
		{Status: 200, Trailer: http.Header{"X-Sum": {"abc"}}, Body: []byte("hi")},
		{Status: 101, NotReplayable: "switched"},
		{Status: 99},
		{Status: 200, Header: http.Header{"Content-Type": nil, "Content-Disposition": {"attachment; filename=\"caf\xe9\""}}},
	} {
		b, err := s.MarshalResult()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("not a record"))
	f.Add([]byte{recordVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s storedResponse
		if err := s.UnmarshalResult(data); err != nil {
			if !errors.Is(err, idempotency.ErrCorrupt) {
				t.Fatalf("UnmarshalResult: %v does not match ErrCorrupt", err)
			}
			return // Do reports a record that does not decode as ErrResultUnavailable
		}
		// What decodes encodes back to what decodes the same.
		again, err := s.MarshalResult()
		if err != nil {
			t.Fatal(err)
		}
		var s2 storedResponse
		if err := s2.UnmarshalResult(again); err != nil || !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip: %+v, %v; want %+v", s2, err, s)
		}
		if err := s.validate(); err != nil {
			if !errors.Is(err, idempotency.ErrCorrupt) {
				t.Fatalf("validate: %v does not match ErrCorrupt", err)
			}
			return
		}
		if s.NotReplayable != "" {
			return // answered with a problem, not replayed
		}
		w := httptest.NewRecorder()
		s.writeTo(w)
		res := w.Result()
		if res.StatusCode != s.Status || w.Body.String() != string(s.Body)+s.body {
			t.Fatalf("replayed %d %q, stored %d %q", res.StatusCode, w.Body.Bytes(), s.Status, string(s.Body)+s.body)
		}
		h := w.Header().Clone()
		want := 0
		for k, vs := range h {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				delete(h, k)
				continue
			}
			want += len(vs)
		}
		var buf bytes.Buffer
		if err := h.Write(&buf); err != nil {
			t.Fatal(err)
		}
		// One line per value: no stored value split into extra lines.
		lines := bytes.Count(buf.Bytes(), []byte("\r\n"))
		if lines != want {
			t.Fatalf("header block has %d lines for %d values:\n%s", lines, want, buf.Bytes())
		}
	})
}

// TestStoredBodyKeepsItsSize: a response body is stored as its bytes,
// whatever they are: not base64 inside JSON (a third larger).
func TestStoredBodyKeepsItsSize(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte{0, 0xff, '"', '<', '\\', 'a'}, 10<<10)
	s := storedResponse{Status: 200, Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: body}
	b, err := s.MarshalResult()
	if err != nil {
		t.Fatal(err)
	}
	if over := len(b) - len(body); over < 0 || over > 64 {
		t.Fatalf("a %d-byte body is stored in %d bytes", len(body), len(b))
	}
	var back storedResponse
	if err := back.UnmarshalResult(b); err != nil || back.body != string(body) || back.Status != 200 {
		t.Fatalf("read back: %v", err)
	}
	b[len(b)-1]++ // the trailer count: now past the end
	if err := back.UnmarshalResult(b); !errors.Is(err, idempotency.ErrCorrupt) {
		t.Fatalf("damaged record: %v, want ErrCorrupt", err)
	}
}
