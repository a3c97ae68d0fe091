package idemhttp

import (
	"encoding/json"
	"testing"
)

// FuzzProblemDocument: the problem document is written as encoding/json
// writes it, byte for byte, whatever the strings hold (a detail can carry
// a stored reason).
func FuzzProblemDocument(f *testing.F) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "line\nbreak\r\ttab\b\f", "\x00\x01\x1f\x7f",
		"<script>&amp;</script>", "caf\xe9 \xff\xfe", "\u2028\u2029", "日本語 ✓", "\xed\xa0\x80",
	} {
		f.Add(s, 409, 0)
	}
	f.Fuzz(func(t *testing.T, s string, status, original int) {
		e := &Error{Type: DefaultProblemBase + s, Title: s, Status: status, Detail: s, OriginalStatus: original}
		want, err := json.Marshal(struct {
			Type           string `json:"type"`
			Title          string `json:"title"`
			Status         int    `json:"status"`
			Detail         string `json:"detail,omitempty"`
			OriginalStatus int    `json:"original_status,omitempty"`
		}{e.Type, e.Title, e.Status, e.Detail, e.OriginalStatus})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendProblem(nil, e); string(got) != string(want)+"\n" {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

// A limit in a problem's detail reads in the largest unit that divides it.
func TestByteSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"},
		{1023, "1023 bytes"},
		{1 << 10, "1 KiB"},
		{1<<10 + 1, "1025 bytes"},
		{1536, "1536 bytes"},
		{1<<20 - 1<<10, "1023 KiB"},
		{1 << 20, "1 MiB"},
		{1<<20 + 1<<10, "1025 KiB"},
		{3 << 20, "3 MiB"},
	} {
		if got := byteSize(tc.n); got != tc.want {
			t.Errorf("byteSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
