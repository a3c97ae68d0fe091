package idempotency_test

import (
	"context"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
)

// sharedItems holds a slice, but its callers promise never to modify it.
type sharedItems struct{ Items []string }

func (sharedItems) SharedResult() {}

// plainItems is the same without the promise.
type plainItems struct{ Items []string }

// TestSharedResult: a result type implementing SharedResult is decoded
// once per outcome and the same value is handed to every duplicate, from
// a memstore record's memo, from the replay cache of another store, and
// from a local cache entry; a type holding a slice without it is decoded
// for each duplicate, so callers may modify what they get.
func TestSharedResult(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) idempotency.Store{
		"memstore": func(t *testing.T) idempotency.Store { return nil },
		"filestore": func(t *testing.T) idempotency.Store {
			s, err := filestore.New(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	for name, open := range stores {
		for _, local := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "", true: "/local cache"}[local], func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				codec := &countingCodec{}
				cfg := &idempotency.Config{Codec: codec}
				if local {
					cfg.LocalCache = idempotency.LocalCacheConfig{MaxAge: time.Hour}
				}
				g := newGuard(t, open(t), cfg)
				shared := func(context.Context) (sharedItems, error) { return sharedItems{[]string{"a", "b"}}, nil }
				plain := func(context.Context) (plainItems, error) { return plainItems{[]string{"a", "b"}}, nil }
				if _, err := idempotency.Do(ctx, g, "shared", shared); err != nil {
					t.Fatal(err)
				}
				if _, err := idempotency.Do(ctx, g, "plain", plain); err != nil {
					t.Fatal(err)
				}
				codec.unmarshal.Store(0)
				var firsts []*string
				for range 3 {
					v, err := idempotency.Do(ctx, g, "shared", shared)
					if err != nil || len(v.Items) != 2 || v.Items[1] != "b" {
						t.Fatalf("shared replay = %+v, %v", v, err)
					}
					firsts = append(firsts, &v.Items[0])
				}
				if n := codec.unmarshal.Load(); n != 1 {
					t.Errorf("shared result decoded %d times for 3 duplicates; want once", n)
				}
				if firsts[0] != firsts[1] || firsts[1] != firsts[2] {
					t.Error("duplicates of a shared result got different values; want the same one")
				}
				codec.unmarshal.Store(0)
				for range 3 {
					v, err := idempotency.Do(ctx, g, "plain", plain)
					if err != nil || v.Items[0] != "a" {
						t.Fatalf("plain replay = %+v, %v; want a fresh value", v, err)
					}
					v.Items[0] = "changed"
				}
				if n := codec.unmarshal.Load(); n != 3 {
					t.Errorf("plain result decoded %d times for 3 duplicates; want each time", n)
				}
			})
		}
	}
}
