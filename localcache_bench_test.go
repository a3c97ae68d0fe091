package idempotency_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/memstore"
)

// BenchmarkLocalCache: duplicates of completed keys, with and without the
// local cache, in the same run, over a memstore (a round trip costs a map
// lookup) and a filestore (it costs reading a file: the nearest to a
// network store that needs no server).
func BenchmarkLocalCache(b *testing.B) {
	type receipt struct {
		ID     string
		Amount int
	}
	fn := func(context.Context) (receipt, error) { return receipt{"ch_1", 4200}, nil }
	ctx := context.Background()
	stores := []struct {
		name string
		new  func(b *testing.B) idempotency.Store
	}{
		{"memstore", func(b *testing.B) idempotency.Store {
			s := memstore.New(&memstore.Options{SweepInterval: -1})
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"filestore", func(b *testing.B) idempotency.Store {
			s, err := filestore.New(b.TempDir(), &filestore.Options{SweepInterval: -1, NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
	}
	for _, st := range stores {
		for _, n := range []int{1, 1000} {
			for _, tc := range []struct {
				name  string
				cache idempotency.LocalCacheConfig
			}{
				{"uncached", idempotency.LocalCacheConfig{}},
				{"cached", idempotency.LocalCacheConfig{MaxAge: time.Minute}},
			} {
				b.Run(st.name+"/keys="+strconv.Itoa(n)+"/"+tc.name, func(b *testing.B) {
					g := idempotency.New(st.new(b), &idempotency.Config{LocalCache: tc.cache, Logger: slog.New(slog.DiscardHandler)})
					keys := make([]string, n)
					for i := range keys {
						keys[i] = "invoice:" + strconv.Itoa(i)
						if _, err := idempotency.Do(ctx, g, keys[i], fn); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						if _, err := idempotency.Do(ctx, g, keys[i%n], fn); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
		}
	}
}
