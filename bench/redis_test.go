package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
)

// dupKeys is how many completed keys the duplicate cases of the server
// benchmarks cycle through.
const dupKeys = 1024

// startRedis starts a redis-server for b (skipping when it is missing) and
// returns a client whose pool serves 64 goroutines.
func startRedis(b *testing.B) *redis.Client {
	b.Helper()
	requireServer(b, "redis-server")
	srv := testserver.StartRedis(b)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 128})
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// newRedisGuard is a guard with defaults on a redisstore with defaults.
func newRedisGuard(b *testing.B, c *redis.Client) *idempotency.Guard {
	b.Helper()
	s := redisstore.New(c, nil)
	b.Cleanup(func() { _ = s.Close() })
	if err := s.LoadScripts(context.Background()); err != nil {
		b.Fatal(err)
	}
	return idempotency.New(s, nil)
}

// BenchmarkRedis: a first call and a duplicate through the guard on a local
// redis-server, against raw go-redis making the fewest round trips that do
// the same work (first: SET NX as the claim, then SET XX as the outcome;
// duplicate: one GET), at 1 and 64 goroutines.
func BenchmarkRedis(b *testing.B) {
	c := startRedis(b)
	g := newRedisGuard(b, c)
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
			b.Run(prefix+"/raw", func(b *testing.B) { inParallel(b, par, tc.raw) })
			b.Run(prefix+"/guard", func(b *testing.B) { inParallel(b, par, tc.guard) })
		}
	}
}
