package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/idempotency-go/idempotency"
)

func TestDecodeResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		err  error // nil: valid
	}{
		{"minimal", `{"idem_run":1,"exit":0}`, nil},
		{"with output", `{"idem_run":1,"exit":3,"stdout":"aGk=","stderr_truncated":true}`, nil},
		{"other format", `{"idem_run":2,"exit":0}`, idempotency.ErrResultUnavailable},
		{"no marker", `{"exit":0}`, idempotency.ErrResultUnavailable},
		{"a string", `"hello"`, idempotency.ErrResultUnavailable},
		{"not JSON", `\x00\x01`, idempotency.ErrResultUnavailable},
		{"empty", ``, idempotency.ErrResultUnavailable},
		{"exit too large", `{"idem_run":1,"exit":256}`, idempotency.ErrCorrupt},
		{"negative exit", `{"idem_run":1,"exit":-1}`, idempotency.ErrCorrupt},
		{"bad base64", `{"idem_run":1,"exit":0,"stdout":"!!"}`, idempotency.ErrResultUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeResult([]byte(tt.in))
			if (tt.err == nil) != (err == nil) || (tt.err != nil && !errors.Is(err, tt.err)) {
				t.Fatalf("decodeResult(%q) = %v, want %v", tt.in, err, tt.err)
			}
		})
	}
}

func FuzzDecodeResult(f *testing.F) {
	for _, r := range []runResult{
		{Format: resultFormat},
		{Format: resultFormat, Exit: 3, Stdout: []byte("out\n"), Stderr: []byte{0, 0xff}, StderrTruncated: true},
		{Format: resultFormat, Exit: 255, StdoutTruncated: true},
	} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`"hello"`))
	f.Add([]byte(`{"idem_run":1,"exit":999}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeResult(data)
		if err != nil {
			if !errors.Is(err, idempotency.ErrResultUnavailable) && !errors.Is(err, idempotency.ErrCorrupt) {
				t.Fatalf("error %v matches neither ErrResultUnavailable nor ErrCorrupt", err)
			}
			return
		}
		if r.Format != resultFormat || r.Exit < 0 || r.Exit > 255 {
			t.Fatalf("accepted %+v", r)
		}
		// What is accepted round-trips.
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeResult(b)
		if err != nil || r2.Exit != r.Exit || !bytes.Equal(r2.Stdout, r.Stdout) || !bytes.Equal(r2.Stderr, r.Stderr) ||
			r2.StdoutTruncated != r.StdoutTruncated || r2.StderrTruncated != r.StderrTruncated {
			t.Fatalf("round trip of %+v: %+v, %v", r, r2, err)
		}
	})
}
