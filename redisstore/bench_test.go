package redisstore_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// BenchmarkGuard measures calls through the guard on a local redis-server
// beside a baseline of raw go-redis commands making the same number of
// round trips (first call: SET NX then SET XX, as claim and complete;
// duplicate: one GET), at 1 and 64 goroutines. The store cases make the
// same calls on the Store directly (Claim and Complete, or Claim), the
// guard cases through idempotency.Do; both report x-baseline: time per
// call divided by the baseline's in the same run.
//
//	go test -run '^$' -bench BenchmarkGuard -benchmem ./redisstore
func BenchmarkGuard(b *testing.B) {
	srv := testserver.StartRedis(b)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 128})
	b.Cleanup(func() { _ = c.Close() })
	s := newStore(b, c, nil)
	if err := s.LoadScripts(context.Background()); err != nil {
		b.Fatal(err)
	}
	g := idempotency.New(s, &idempotency.Config{Lease: time.Minute, TTL: time.Hour})
	fn := func(context.Context) (int, error) { return 1, nil }
	var seq atomic.Int64
	fresh := func() string { return "k" + strconv.FormatInt(seq.Add(1), 10) }

	// Keys for duplicates: completed once, before timing.
	const dupKeys = 1024
	ctx := context.Background()
	for i := range dupKeys {
		if _, err := idempotency.Do(ctx, g, "dup"+strconv.Itoa(i), fn); err != nil {
			b.Fatal(err)
		}
		if err := c.Set(ctx, "base:dup"+strconv.Itoa(i), "1", time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}

	req := func(k string) idemtype.ClaimRequest {
		return idemtype.ClaimRequest{Key: k, Lease: time.Minute, TTL: time.Hour, Takeover: true}
	}
	cases := []struct {
		name     string
		baseline func(ctx context.Context, i int) error
		store    func(ctx context.Context, i int) error // the same through the Store alone
		guard    func(ctx context.Context, i int) error
	}{
		{"first",
			func(ctx context.Context, _ int) error {
				k := "base:" + fresh()
				if err := c.SetNX(ctx, k, "claim", time.Minute).Err(); err != nil {
					return err
				}
				return c.SetXX(ctx, k, "done", time.Hour).Err()
			},
			func(ctx context.Context, _ int) error {
				k := fresh()
				cl, err := s.Claim(ctx, req(k))
				if err != nil {
					return err
				}
				return s.Complete(ctx, k, cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("1"), TTL: time.Hour})
			},
			func(ctx context.Context, _ int) error {
				_, err := idempotency.Do(ctx, g, fresh(), fn)
				return err
			}},
		{"duplicate",
			func(ctx context.Context, i int) error {
				return c.Get(ctx, "base:dup"+strconv.Itoa(i%dupKeys)).Err()
			},
			func(ctx context.Context, i int) error {
				_, err := s.Claim(ctx, req("dup"+strconv.Itoa(i%dupKeys)))
				return err
			},
			func(ctx context.Context, i int) error {
				_, err := idempotency.Do(ctx, g, "dup"+strconv.Itoa(i%dupKeys), fn)
				return err
			}},
	}
	for _, tc := range cases {
		for _, par := range []int{1, 64} {
			var baseNs float64
			run := func(op func(context.Context, int) error) func(b *testing.B) {
				return func(b *testing.B) {
					b.ReportAllocs()
					if par == 1 {
						for i := 0; b.Loop(); i++ {
							if err := op(ctx, i); err != nil {
								b.Fatal(err)
							}
						}
					} else {
						b.SetParallelism((par + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
						var n atomic.Int64
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								if err := op(ctx, int(n.Add(1))); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
				}
			}
			prefix := tc.name + "/goroutines=" + strconv.Itoa(par)
			b.Run(prefix+"/baseline", func(b *testing.B) {
				run(tc.baseline)(b)
				baseNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			})
			ratio := func(op func(context.Context, int) error) func(b *testing.B) {
				return func(b *testing.B) {
					run(op)(b)
					if baseNs > 0 {
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseNs, "x-baseline")
					}
				}
			}
			b.Run(prefix+"/store", ratio(tc.store))
			b.Run(prefix+"/guard", ratio(tc.guard))
		}
	}
}
