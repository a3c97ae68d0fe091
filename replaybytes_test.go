package idempotency_test

import (
	"context"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// keptBlob encodes itself as its bytes, without copying them either way, as a
// zero-copy binary result would.
type keptBlob struct{ B []byte }

func (b keptBlob) MarshalResult() ([]byte, error)     { return b.B, nil }
func (b *keptBlob) UnmarshalResult(data []byte) error { b.B = data; return nil }

// rawCodec decodes a []byte result as the stored bytes themselves.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return append([]byte(nil), v.([]byte)...), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = data
	return nil
}

// The bytes a duplicate's result is decoded from are the store's own in
// memstore, and the local cache's own with one: shared with every later
// duplicate. A decoder that keeps them (a result type that decodes itself
// without copying, or a Codec) hands them to its caller, who may write
// into its result: that must not change what the next duplicate gets.
// Nor may the first caller's result share its bytes with the outcome the
// local cache keeps.
func TestResultBytesNotShared(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		local bool
	}{{"Store", false}, {"LocalCache", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var cfg, rawCfg idempotency.Config
			rawCfg.Codec = rawCodec{}
			if c.local {
				cfg.LocalCache = idempotency.LocalCacheConfig{MaxAge: time.Hour}
				rawCfg.LocalCache = cfg.LocalCache
			}
			ctx := context.Background()
			t.Run("ResultUnmarshaler", func(t *testing.T) {
				g := newGuard(t, nil, &cfg)
				for i := range 3 {
					v, err := idempotency.Do(ctx, g, "k", func(context.Context) (keptBlob, error) { return keptBlob{[]byte("hello")}, nil })
					if err != nil || string(v.B) != "hello" {
						t.Fatalf("call %d = %q, %v; want hello", i, v.B, err)
					}
					v.B[0] = 'J' // the caller's own result
				}
			})
			t.Run("Codec", func(t *testing.T) {
				g := newGuard(t, nil, &rawCfg)
				for i := range 3 {
					v, err := idempotency.Do(ctx, g, "k", func(context.Context) ([]byte, error) { return []byte("hello"), nil })
					if err != nil || string(v) != "hello" {
						t.Fatalf("call %d = %q, %v; want hello", i, v, err)
					}
					v[0] = 'J'
				}
			})
		})
	}
}
