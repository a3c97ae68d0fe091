package bench

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testbench"
	"github.com/idempotency-go/idempotency/memstore"
	"golang.org/x/sync/singleflight"
)

type receipt struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

var sink atomic.Int64

// work is the guarded function: cheap, so that the benchmarks measure the
// guard and not the work.
func work(context.Context) (receipt, error) {
	sink.Add(1)
	return receipt{ID: "ch_1", Amount: 4200}, nil
}

func newGuard(b *testing.B) *idempotency.Guard {
	s := memstore.New(&memstore.Options{SweepInterval: -1})
	b.Cleanup(func() { _ = s.Close() })
	return idempotency.New(s, nil)
}

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "invoice:" + strconv.Itoa(i)
	}
	return ks
}

// BenchmarkFirstCall: every call has a new key, so every call runs fn and
// records its outcome, on a default memstore holding 1k or 1M live records
// (see firstCallsLive).
func BenchmarkFirstCall(b *testing.B) {
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = work(ctx)
		}
	})
	b.Run("singleflight", func(b *testing.B) {
		var sf singleflight.Group
		ks := keys(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			_, _, _ = sf.Do(ks[i], func() (any, error) { return work(ctx) })
		}
	})
	for _, n := range liveSizes {
		b.Run("memstore/"+liveName(n), func(b *testing.B) { firstCallsLive(b, n) })
	}
}

// firstCalls makes b.N calls of g, each with a new key.
func firstCalls(b *testing.B, g *idempotency.Guard) {
	ctx := context.Background()
	ks := keys(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := idempotency.Do(ctx, g, ks[i], work); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstCallSteady: every call has a new key, as in
// BenchmarkFirstCall, but records expire as fast as they are made, as in a
// long-running service, and each call pays for expiring an old one. The
// store's clock moves 1µs each time it is read (about twice a call), so a
// TTL of n µs keeps about n/2 live records: a few hundred (a store that
// fits in the CPU's caches) or tens of thousands (one that does not).
func BenchmarkFirstCallSteady(b *testing.B) {
	for _, live := range []int{500, 50_000} {
		b.Run("records="+strconv.Itoa(live), func(b *testing.B) {
			var ticks atomic.Int64
			epoch := time.Now()
			s := memstore.New(&memstore.Options{SweepInterval: -1, Now: func() time.Time {
				return epoch.Add(time.Duration(ticks.Add(1)) * time.Microsecond)
			}})
			b.Cleanup(func() { _ = s.Close() })
			firstCalls(b, idempotency.New(s, &idempotency.Config{TTL: time.Duration(2*live) * time.Microsecond, Lease: idempotency.MinLease}))
			b.StopTimer()
			if n := s.Len(); b.N > 4*live && n > 2*live {
				b.Fatalf("%d live records, want about %d: the store is not in a steady state", n, live)
			}
		})
	}
}

// BenchmarkDuplicate: every call repeats one key whose outcome is stored.
func BenchmarkDuplicate(b *testing.B) {
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = work(ctx)
		}
	})
	b.Run("singleflight", func(b *testing.B) {
		var sf singleflight.Group
		b.ReportAllocs()
		for b.Loop() {
			_, _, _ = sf.Do("invoice:1", func() (any, error) { return work(ctx) })
		}
	})
	b.Run("memstore", func(b *testing.B) {
		g := idempotency.New(nil, nil) // a default memstore
		if _, err := idempotency.Do(ctx, g, "invoice:1", work); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := idempotency.Do(ctx, g, "invoice:1", work); err != nil {
				b.Fatal(err)
			}
		}
	})
	// singleflight and memstore alternated in rounds of 64 calls, so that
	// both meet the same load: memstore's time over singleflight's.
	b.Run("paired", func(b *testing.B) {
		var sf singleflight.Group
		g := idempotency.New(nil, nil)
		if _, err := idempotency.Do(ctx, g, "invoice:1", work); err != nil {
			b.Fatal(err)
		}
		testbench.PairedRounds(b, 1, 64,
			func(ctx context.Context, _ int) error {
				_, err, _ := sf.Do("invoice:1", func() (any, error) { return work(ctx) })
				return err
			},
			func(ctx context.Context, _ int) error {
				_, err := idempotency.Do(ctx, g, "invoice:1", work)
				return err
			})
	})
}

// BenchmarkParallelDuplicate: all goroutines repeat a few hot keys.
func BenchmarkParallelDuplicate(b *testing.B) {
	ctx := context.Background()
	hot := keys(16)
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = work(ctx)
			}
		})
	})
	b.Run("singleflight", func(b *testing.B) {
		var sf singleflight.Group
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_, _, _ = sf.Do(hot[i%len(hot)], func() (any, error) { return work(ctx) })
				i++
			}
		})
	})
	b.Run("memstore", func(b *testing.B) {
		g := newGuard(b)
		for _, k := range hot {
			if _, err := idempotency.Do(ctx, g, k, work); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := idempotency.Do(ctx, g, hot[i%len(hot)], work); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkParallelFirstCall: all goroutines make first calls, each with a
// new key.
func BenchmarkParallelFirstCall(b *testing.B) {
	ctx := context.Background()
	var seq atomic.Int64
	next := func() string { return "invoice:" + strconv.FormatInt(seq.Add(1), 10) }
	b.Run("singleflight", func(b *testing.B) {
		var sf singleflight.Group
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _, _ = sf.Do(next(), func() (any, error) { return work(ctx) })
			}
		})
	})
	b.Run("memstore", func(b *testing.B) {
		g := newGuard(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := idempotency.Do(ctx, g, next(), work); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkWrap: the key derived from the argument on every call.
func BenchmarkWrap(b *testing.B) {
	ctx := context.Background()
	type invoice struct {
		Customer string
		Amount   int
	}
	g := newGuard(b)
	create := idempotency.Wrap(g, "create-invoice", func(ctx context.Context, inv invoice) (receipt, error) { return work(ctx) })
	inv := invoice{"alice", 4200}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := create(ctx, inv); err != nil {
			b.Fatal(err)
		}
	}
}
