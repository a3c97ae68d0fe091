package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestErrorLabels: an operation that fails says which one it was, with
// the key, and keeps the server's error for errors.As. The table is
// dropped under a running store, so every statement fails.
func TestErrorLabels(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	if _, err := pool.Exec(ctx, `DROP TABLE `+s.Table()); err != nil {
		t.Fatal(err)
	}
	checkLabels(t, labelCases(ctx, s, g, func() error {
		_, err := pgstore.DoTx(ctx, g, "k", func(context.Context, pgx.Tx) (int, error) { return 1, nil })
		return err
	}))
}

// labelStore is what both backends offer the label tests.
type labelStore interface {
	idemtype.Store
	idemtype.Lister
	idemtype.Sweeper
}

type labelCase struct {
	op   string
	call func() error
}

// labelCases calls every operation of s on key "k", then a guarded call
// through g and the backend's transaction call txCall; each is labelled
// by the operation that failed.
func labelCases(ctx context.Context, s labelStore, g *idempotency.Guard, txCall func() error) []labelCase {
	out := idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("1"), TTL: time.Hour}
	return []labelCase{
		{"claim", func() error {
			_, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
			return err
		}},
		{"complete", func() error { return s.Complete(ctx, "k", 1, out) }},
		{"release", func() error { return s.Release(ctx, "k", 1) }},
		{"extend", func() error { return s.Extend(ctx, "k", 1, time.Minute) }},
		{"get", func() error { _, err := s.Get(ctx, "k"); return err }},
		{"delete", func() error { return s.Delete(ctx, "k") }},
		{"list", func() error { return s.List(ctx, "k", func(idemtype.Record) bool { return true }) }},
		{"sweep", func() error { _, err := s.Sweep(ctx); return err }},
		{"claim", func() error {
			_, err := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) { return 1, nil })
			return err
		}},
		{"claim", txCall},
	}
}

// checkLabels checks that each call fails with an *idemtype.OpError naming
// its operation, whose message keeps the server's error but not the key
// (keys may carry client data, and messages reach logs).
func checkLabels(t *testing.T, cases []labelCase) {
	t.Helper()
	for _, tc := range cases {
		err := tc.call()
		want := "idempotency: pgstore: " + tc.op + ": "
		var pgErr *pgconn.PgError
		var opErr *idemtype.OpError
		switch {
		case err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &pgErr) || pgErr.Code != "42P01":
			t.Errorf("%s = %v; want %q and the server's undefined_table", tc.op, err, want)
		case !errors.As(err, &opErr) || opErr.Op != tc.op || opErr.Store != "pgstore":
			t.Errorf("%s = %v; want an *idemtype.OpError for %s", tc.op, err, tc.op)
		case strings.Contains(opErr.Error(), `"k"`):
			t.Errorf("%s = %v; the store's message shows the key", tc.op, opErr)
		}
	}
}
