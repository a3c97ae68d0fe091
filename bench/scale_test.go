package bench

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/redis/go-redis/v9"
)

// BenchmarkRecordMemory reports B/record: the memory each live record
// takes, made through the guard as a first call with a small result,
// measured as the growth of the Go heap (memstore) or of Redis's
// used_memory (redis/guard; redis/raw is the same number of plain SET
// keys holding the result, for scale). Run it once: -benchtime 1x. The
// store holds 1M records; Redis 100k (-short: 10k), as each record costs
// two round trips to make.
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
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	b.Run("redis/raw/"+liveName(n), func(b *testing.B) {
		c := startRedis(b)
		before := usedMemory(b, c)
		const batch = 1000
		for i := 0; i < n; i += batch {
			p := c.Pipeline()
			for j := i; j < min(i+batch, n); j++ {
				p.Set(ctx, "invoice:"+strconv.Itoa(j), `{"id":"ch_1","amount":4200}`, 24*time.Hour)
			}
			if _, err := p.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(usedMemory(b, c)-before)/float64(n), "B/record")
	})
	b.Run("redis/guard/"+liveName(n), func(b *testing.B) {
		c := startRedis(b)
		g := newRedisGuard(b, c)
		before := usedMemory(b, c)
		const workers = 64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					if _, err := idempotency.Do(ctx, g, "invoice:"+strconv.Itoa(i), work); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if n2, err := c.DBSize(ctx).Result(); err != nil || n2 < int64(n) {
			b.Fatalf("DBSIZE = %d, %v; want at least %d", n2, err, n)
		}
		b.ReportMetric(float64(usedMemory(b, c)-before)/float64(n), "B/record")
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

// usedMemory returns the used_memory field of Redis's INFO memory.
func usedMemory(b *testing.B, c *redis.Client) int64 {
	b.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("INFO memory has no used_memory")
	return 0
}
