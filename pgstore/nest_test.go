package pgstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// sizedPool returns a pool of n connections on dsn.
func sizedPool(t *testing.T, n int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = n
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestNestedInDoTx: a call inside DoTx's fn that could only wait for that
// DoTx (the same key, whose row its transaction locks, or a pool with no
// connection left) fails at once with ErrNested, under every duplicate
// policy, instead of hanging until its context ends; the enclosing DoTx
// then ends as fn says. Calls that can proceed do.
func TestNestedInDoTx(t *testing.T) {
	t.Parallel()
	type env struct {
		g     *idempotency.Guard
		s     *pgstore.Store
		other *pgstore.Store // same table, another pool
	}
	noop := func(context.Context) (int, error) { return 1, nil }
	noopTx := func(context.Context, pgx.Tx) (int, error) { return 1, nil }
	cases := []struct {
		name   string
		conns  int32
		nested func(ctx context.Context, e env) error
		ok     bool // the nested call may proceed
	}{
		{"SameKeyDo", 4, func(ctx context.Context, e env) error { _, err := idempotency.Do(ctx, e.g, "outer", noop); return err }, false},
		{"SameKeyDoTx", 4, func(ctx context.Context, e env) error { _, err := pgstore.DoTx(ctx, e.g, "outer", noopTx); return err }, false},
		{"SameKeyWrapKeyed", 4, func(ctx context.Context, e env) error {
			_, err := idempotency.WrapKeyed(e.g, func(string) string { return "outer" }, func(context.Context, string) (int, error) { return 1, nil })(ctx, "x")
			return err
		}, false},
		{"SameKeyOtherPool", 4, func(ctx context.Context, e env) error {
			cfg := e.g.Config()
			_, err := idempotency.Do(ctx, idempotency.New(e.other, &cfg), "outer", noop)
			return err
		}, false},
		{"SameKeyDelete", 4, func(ctx context.Context, e env) error { return e.s.Delete(ctx, "outer") }, false},
		{"PoolOfOneDo", 1, func(ctx context.Context, e env) error { _, err := idempotency.Do(ctx, e.g, "inner", noop); return err }, false},
		{"PoolOfOneDoTx", 1, func(ctx context.Context, e env) error { _, err := pgstore.DoTx(ctx, e.g, "inner", noopTx); return err }, false},
		{"PoolOfOneGet", 1, func(ctx context.Context, e env) error { _, err := e.s.Get(ctx, "inner"); return err }, false},
		{"PoolOfOneSweep", 1, func(ctx context.Context, e env) error { _, err := e.s.Sweep(ctx); return err }, false},
		{"PoolOfTwoTwoLevels", 2, func(ctx context.Context, e env) error {
			_, err := pgstore.DoTx(ctx, e.g, "middle", func(ctx context.Context, _ pgx.Tx) (int, error) {
				return idempotency.Do(ctx, e.g, "inner", noop)
			})
			return err
		}, false},
		{"OtherKeyDo", 2, func(ctx context.Context, e env) error { _, err := idempotency.Do(ctx, e.g, "inner", noop); return err }, true},
		{"OtherKeyDoTx", 2, func(ctx context.Context, e env) error { _, err := pgstore.DoTx(ctx, e.g, "inner", noopTx); return err }, true},
		{"SameKeyGet", 2, func(ctx context.Context, e env) error {
			_, err := e.s.Get(ctx, "outer")
			if errors.Is(err, idempotency.ErrNotFound) {
				err = nil // the claim is not committed yet
			}
			return err
		}, true},
	}
	policies := []struct {
		name string
		cfg  idempotency.Config
	}{
		{"ReturnStored", idempotency.Config{WaitTimeout: time.Minute}},
		{"Wait", idempotency.Config{OnDuplicate: idempotency.Wait}},
		{"Reject", idempotency.Config{OnDuplicate: idempotency.Reject}},
	}
	for _, tc := range cases {
		for _, p := range policies {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				pool := sizedPool(t, tc.conns)
				s := newStore(t, pool, nil)
				other := newStore(t, newPool(t, dsn), &pgstore.Options{Table: s.Table()[1 : len(s.Table())-1]})
				cfg := p.cfg
				g := idempotency.New(s, &cfg)
				// Bounded: a hang fails here, at 20 s, not at the
				// package timeout.
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				var runs atomic.Int64
				var nestedErr error
				v, err := pgstore.DoTx(ctx, g, "outer", func(ctx context.Context, tx pgx.Tx) (int, error) {
					runs.Add(1)
					nestedErr = tc.nested(ctx, env{g: g, s: s, other: other})
					return 42, nestedErr
				})
				if ctx.Err() != nil {
					t.Fatalf("the nested call waited until the context ended: %v", nestedErr)
				}
				if tc.ok {
					if nestedErr != nil || err != nil || v != 42 {
						t.Fatalf("nested call = %v, DoTx = %d, %v; want both to succeed", nestedErr, v, err)
					}
					return
				}
				if !errors.Is(nestedErr, pgstore.ErrNested) {
					t.Fatalf("nested call = %v; want ErrNested", nestedErr)
				}
				if !errors.Is(err, pgstore.ErrNested) || runs.Load() != 1 {
					t.Fatalf("DoTx = %v (fn ran %d times); want fn's ErrNested", err, runs.Load())
				}
				// The outer key was released: it runs again.
				if v, err := pgstore.DoTx(ctx, g, "outer", func(context.Context, pgx.Tx) (int, error) { runs.Add(1); return 7, nil }); err != nil || v != 7 {
					t.Fatalf("DoTx after the nested failure = %d, %v", v, err)
				}
				if n := pool.Stat().AcquiredConns(); n != 0 {
					t.Fatalf("%d connections still acquired", n)
				}
			})
		}
	}
}
