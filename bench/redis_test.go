//go:build unix

package bench

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/redis/go-redis/v9"
)

// BenchmarkRedis: a first call and a duplicate through the guard on a local
// redis-server, against raw go-redis making the fewest round trips that do
// the same work (first: SET NX as the claim, then SET XX as the outcome;
// duplicate: one GET), at 1 and 64 goroutines.
func BenchmarkRedis(b *testing.B) {
	c := startRedis(b)
	g := newRedisGuard(b, c)
	cpu := redisCPU(c)
	ctx := context.Background()
	for i := range dupKeys {
		k := "dup:" + strconv.Itoa(i)
		if _, err := idempotency.Do(ctx, g, k, work); err != nil {
			b.Fatal(err)
		}
		if err := c.Set(ctx, "raw:"+k, `{"id":"ch_1","amount":4200}`, 24*time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	cases := []struct {
		name       string
		raw, guard func(i int) error
	}{
		{"first",
			func(int) error {
				k := "raw:new:" + strconv.FormatInt(firstSeq.Add(1), 10)
				if err := c.SetNX(ctx, k, "claim", 30*time.Second).Err(); err != nil {
					return err
				}
				return c.SetXX(ctx, k, `{"id":"ch_1","amount":4200}`, 24*time.Hour).Err()
			},
			func(int) error {
				_, err := idempotency.Do(ctx, g, "new:"+strconv.FormatInt(firstSeq.Add(1), 10), work)
				return err
			}},
		{"duplicate",
			func(i int) error { return c.Get(ctx, "raw:dup:"+strconv.Itoa(i%dupKeys)).Err() },
			func(i int) error {
				_, err := idempotency.Do(ctx, g, "dup:"+strconv.Itoa(i%dupKeys), work)
				return err
			}},
	}
	for _, tc := range cases {
		for _, par := range []int{1, 64} {
			prefix := tc.name + "/g=" + strconv.Itoa(par)
			b.Run(prefix+"/raw", func(b *testing.B) { inParallel(b, par, tc.raw, cpu) })
			b.Run(prefix+"/guard", func(b *testing.B) { inParallel(b, par, tc.guard, cpu) })
			b.Run(prefix+"/paired", func(b *testing.B) { paired(b, par, tc.raw, tc.guard) })
		}
	}
}

// BenchmarkRedisRecordMemory reports B/record: the growth of Redis's
// used_memory per live record, made through the guard as a first call
// with a small result (guard), beside the same number of plain SET keys
// holding that result (raw). Run it once: -benchtime 1x. It makes 100k
// records (-short: 10k), as each costs two round trips through the guard.
func BenchmarkRedisRecordMemory(b *testing.B) {
	ctx := context.Background()
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	b.Run("raw/"+liveName(n), func(b *testing.B) {
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
	b.Run("guard/"+liveName(n), func(b *testing.B) {
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
