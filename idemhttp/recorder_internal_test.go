package idemhttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// The record the recorder builds as the handler writes decodes to the
// response it recorded, whatever the body's length (which takes one to
// three bytes before the body) and with or without trailers, and counts
// the same size as read back.
func TestPrebuiltRecord(t *testing.T) {
	t.Parallel()
	h := &handler{cfg: (*Config)(nil).withDefaults(), omit: map[string]bool{}}
	for _, size := range []int{0, 1, 127, 128, 255, 256, 300, 20000} {
		for _, trailer := range []bool{false, true} {
			t.Run(strconv.Itoa(size)+"/trailer="+strconv.FormatBool(trailer), func(t *testing.T) {
				t.Parallel()
				rec := newRecorder(context.Background(), httptest.NewRecorder(), h)
				hd := rec.Header()
				hd.Set("Content-Type", "application/json")
				hd.Set("Location", "/payments/1")
				if trailer {
					hd.Set("Trailer", "X-Sum")
				}
				rec.WriteHeader(http.StatusCreated)
				body := strings.Repeat("b", size)
				for p := body; p != ""; p = p[min(len(p), 100):] {
					_, _ = rec.WriteString(p[:min(len(p), 100)])
				}
				if trailer {
					hd.Set("X-Sum", "abc")
				}
				s := rec.result(httptest.NewRequest(http.MethodPost, "/", nil))
				if !rec.prebuilt || s.enc == nil {
					t.Fatal("record not built while the handler wrote")
				}
				var got storedResponse
				if err := got.UnmarshalResult(s.enc); err != nil {
					t.Fatal(err)
				}
				w := httptest.NewRecorder()
				got.writeTo(w)
				if w.Code != http.StatusCreated || w.Body.String() != body || w.Header().Get("Location") != "/payments/1" ||
					w.Header().Get("Content-Type") != "application/json" || trailer != (w.Result().Trailer.Get("X-Sum") == "abc") {
					t.Fatalf("replayed %d %v %d bytes, trailers %v", w.Code, w.Header(), w.Body.Len(), w.Result().Trailer)
				}
				if s.size() != got.size() {
					t.Fatalf("size %d as recorded, %d as read back", s.size(), got.size())
				}
			})
		}
	}
}

// asSent keeps of the trailers what net/http sends: a field none of whose
// values it sends is dropped whole, not stored as a name without values
// (which a replay would announce).
func TestAsSent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"Sendable", http.Header{"X-A": {" a "}}, http.Header{"X-A": {"a"}}},
		{"LineBreak", http.Header{"X-A": {"a\r\nb"}}, http.Header{"X-A": {"a  b"}}},
		{"NoValueSent", http.Header{"X-A": {"a\x00"}, "X-B": {"b"}}, http.Header{"X-B": {"b"}}},
		{"SomeValuesSent", http.Header{"X-A": {"a\x00", "a"}}, http.Header{"X-A": {"a"}}},
		{"NameNotAToken", http.Header{"X A": {"a"}}, http.Header{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := asSent(tc.in.Clone())
			if len(got) != len(tc.want) {
				t.Fatalf("asSent = %q, want %q", got, tc.want)
			}
			for k, vs := range tc.want {
				if strings.Join(got[k], "\x00") != strings.Join(vs, "\x00") {
					t.Fatalf("asSent = %q, want %q", got, tc.want)
				}
			}
		})
	}
}

// A replay announces its trailers (the Trailer header) as the original
// did, and announces them itself when the stored header does not: without
// a Trailer field, or with one that has no values (a record of another
// writer: this package stores no field without values but Content-Type).
func TestReplayAnnouncesTrailers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		header []byte // the stored header block's fields after the count
		n      int    // their number
		want   []string
	}{
		{"AsStored", appendField(nil, "Trailer", []string{"X-Sum, X-Unset"}), 1, []string{"X-Sum, X-Unset"}},
		{"NotStored", nil, 0, []string{"X-Sum"}},
		{"StoredWithoutValues", appendField(nil, "Trailer", nil), 1, []string{"X-Sum"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := storedResponse{Status: http.StatusOK, hdr: headerBlock(tc.n, tc.header), Trailer: http.Header{"X-Sum": {"9"}}}
			w := httptest.NewRecorder()
			s.writeTo(w)
			if got := w.Header()["Trailer"]; strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") {
				t.Fatalf("Trailer %q, want %q", got, tc.want)
			}
		})
	}
}
