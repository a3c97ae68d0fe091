package idemhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
)

// FuzzStoredResponse feeds the replay path records as a store could hold
// them, written by anyone: a record is either refused as corrupt or
// replayed exactly, never half-written or with a forged header.
func FuzzStoredResponse(f *testing.F) {
	for _, s := range []string{
		`{"status":201,"header":{"Content-Type":["application/json"]},"body":"eyJpZCI6MX0="}`,
		`{"status":204}`,
		`{"status":200,"header":{"X-A":["a\r\nSet-Cookie: x"]}}`,
		`{"status":200,"header":{"Bad Name":["v"]}}`,
		`{"status":200,"trailer":{"X-Sum":["abc"]},"body":"aGk="}`,
		`{"status":101,"not_replayable":"switched"}`,
		`{"status":99}`,
		`{"status":1000}`,
		`{"status":200,"header":{"Content-Type":null}}`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s storedResponse
		if json.Unmarshal(data, &s) != nil {
			return // Do reports a record that does not decode as ErrResultUnavailable
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
		if res.StatusCode != s.Status || !bytes.Equal(w.Body.Bytes(), s.Body) {
			t.Fatalf("replayed %d %q, stored %d %q", res.StatusCode, w.Body.Bytes(), s.Status, s.Body)
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
