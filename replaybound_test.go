package idempotency_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idempotency-go/idempotency"
)

// TestReplayCacheBound: over a store without memos, the guard's replay
// cache spares duplicates of a small outcome the decoding, and keeps no
// outcome of more than 4 KiB: however large the results, what it holds
// stays bounded, and each duplicate of a large one decodes it again.
func TestReplayCacheBound(t *testing.T) {
	t.Parallel()
	type page struct{ HTML string }
	// The stored bytes: countingCodec's "v1:" and the JSON object.
	const overhead = len(`v1:{"HTML":""}`)
	for _, tc := range []struct {
		name    string
		size    int   // of the result's string
		decodes int64 // by the three duplicates
	}{
		{"Small", 100, 1},
		{"AtTheBound", 4<<10 - overhead, 1},
		{"OverTheBound", 4<<10 - overhead + 1, 3},
		{"Large", 1 << 20, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			codec := &countingCodec{}
			g := newGuard(t, noMemoStore{newStore(t, nil)}, &idempotency.Config{Codec: codec})
			want := page{HTML: strings.Repeat("x", tc.size)}
			fn := func(context.Context) (page, error) { return want, nil }
			ctx := context.Background()
			if _, err := idempotency.Do(ctx, g, "k", fn); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				got, err := idempotency.Do(ctx, g, "k", fn)
				if err != nil || got != want {
					t.Fatalf("duplicate = %d bytes, %v; want the stored %d", len(got.HTML), err, len(want.HTML))
				}
			}
			if got := codec.unmarshal.Load(); got != tc.decodes {
				t.Fatalf("3 duplicates decoded %d times; want %d", got, tc.decodes)
			}
		})
	}
}

// gzipCodec is a Codec that compresses JSON and counts its decodings: a
// few stored bytes may decode into many.
type gzipCodec struct{ unmarshal atomic.Int64 }

func (c *gzipCodec) Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	if err := json.NewEncoder(z).Encode(v); err != nil {
		return nil, err
	}
	err := z.Close()
	return b.Bytes(), err
}

func (c *gzipCodec) Unmarshal(data []byte, v any) error {
	c.unmarshal.Add(1)
	z, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return json.NewDecoder(z).Decode(v)
}

// sharedPage is a result type that holds a slice, shared between callers.
type sharedPage struct{ Body []byte }

func (sharedPage) SharedResult() {}

// TestReplayCacheBoundDecoded: the bound holds for what an outcome decodes
// into too, which a codec that compresses makes far larger than its stored
// bytes: a string, an array, a slice of a SharedResult.
func TestReplayCacheBoundDecoded(t *testing.T) {
	t.Parallel()
	type page struct{ HTML string }
	large := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name    string
		result  any
		decodes int64 // by the three duplicates
	}{
		{"SmallString", page{HTML: strings.Repeat("x", 100)}, 1},
		{"LargeString", page{HTML: large}, 3},
		{"SmallArray", [16]int64{}, 1},
		{"LargeArray", [1 << 12]int64{}, 3},
		{"SmallShared", sharedPage{Body: []byte("x")}, 1},
		{"LargeShared", sharedPage{Body: []byte(large)}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			codec := &gzipCodec{}
			g := newGuard(t, noMemoStore{newStore(t, nil)}, &idempotency.Config{Codec: codec})
			switch want := tc.result.(type) {
			case page:
				replayThrice(t, g, want, func(a, b page) bool { return a == b })
			case [16]int64:
				replayThrice(t, g, want, func(a, b [16]int64) bool { return a == b })
			case [1 << 12]int64:
				replayThrice(t, g, want, func(a, b [1 << 12]int64) bool { return a == b })
			case sharedPage:
				replayThrice(t, g, want, func(a, b sharedPage) bool { return bytes.Equal(a.Body, b.Body) })
			}
			if got := codec.unmarshal.Load(); got != tc.decodes {
				t.Fatalf("3 duplicates decoded %d times; want %d", got, tc.decodes)
			}
		})
	}
}

// replayThrice runs key k once and then three duplicates, which must get want.
func replayThrice[T any](t *testing.T, g *idempotency.Guard, want T, equal func(a, b T) bool) {
	t.Helper()
	fn := func(context.Context) (T, error) { return want, nil }
	ctx := context.Background()
	if _, err := idempotency.Do(ctx, g, "k", fn); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got, err := idempotency.Do(ctx, g, "k", fn)
		if err != nil || !equal(got, want) {
			t.Fatalf("duplicate = %v; want the stored result", err)
		}
	}
}
