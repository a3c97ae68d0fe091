package idempotency_test

import (
	"context"
	"strings"
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
