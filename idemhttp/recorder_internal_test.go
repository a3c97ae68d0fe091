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
