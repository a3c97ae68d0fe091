package bench

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

// BenchmarkRecordMemory reports B/record: the growth of the Go heap per
// live record of a default memstore holding 1M records, each made through
// the guard as a first call with a small result. Run it once: -benchtime
// 1x. BenchmarkRedisRecordMemory does the same for Redis.
func BenchmarkRecordMemory(b *testing.B) {
	ctx := context.Background()
	b.Run("memstore/"+liveName(1_000_000), func(b *testing.B) {
		const n = 1_000_000
		before := heapInUse()
		s := memstore.New(nil)
		g := idempotency.New(s, nil)
		for i := range n {
			if _, err := idempotency.Do(ctx, g, "invoice:"+strconv.Itoa(i), work); err != nil {
				b.Fatal(err)
			}
		}
		after := heapInUse()
		if s.Len() != n {
			b.Fatalf("%d live records, want %d", s.Len(), n)
		}
		runtime.KeepAlive(g)
		_ = s.Close()
		b.ReportMetric(float64(after-before)/n, "B/record")
	})
}

// heapInUse returns the bytes of live heap after a full collection.
func heapInUse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
