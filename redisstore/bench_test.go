package redisstore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testbench"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// BenchmarkGuard measures calls through the guard on a local redis-server
// beside a baseline of raw go-redis commands making the same number of
// round trips (first call: SET NX then SET XX, as claim and complete;
// duplicate: one GET), at 1 and 64 goroutines. The store cases make the
// same calls on the Store directly (Claim and Complete, or Claim), the
// guard cases through idempotency.Do. The -vs-baseline cases run the
// baseline and the store or guard alternately and report x-baseline: time
// per call divided by the baseline's, measured side by side.
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
			prefix := tc.name + "/goroutines=" + strconv.Itoa(par)
			b.Run(prefix+"/baseline", func(b *testing.B) { testbench.Run(b, par, tc.baseline) })
			b.Run(prefix+"/store", func(b *testing.B) { testbench.Run(b, par, tc.store) })
			b.Run(prefix+"/guard", func(b *testing.B) { testbench.Run(b, par, tc.guard) })
			b.Run(prefix+"/store-vs-baseline", func(b *testing.B) { testbench.Paired(b, par, tc.baseline, tc.store) })
			b.Run(prefix+"/guard-vs-baseline", func(b *testing.B) { testbench.Paired(b, par, tc.baseline, tc.guard) })
		}
	}
}
