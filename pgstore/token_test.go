package pgstore_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
)

// Tokens come from the table's bigint sequence: the last one it gives,
// 2^63-1, fences writes like any other, and a token past it (which no
// claim holds) matches nothing.
func TestLargestToken(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	table := fmt.Sprintf("largest_token_%d", tables.Add(1))
	s := newStore(t, pool, &pgstore.Options{Table: table})
	ctx := testCtx(t)
	seq := pgx.Identifier{table + "_token_seq"}.Sanitize()
	if _, err := pool.Exec(ctx, `SELECT setval($1::regclass, $2)`, seq, int64(math.MaxInt64-1)); err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
	if err != nil || !c.Acquired || c.Record.Token != math.MaxInt64 {
		t.Fatalf("Claim = %+v, %v; want acquired with token 2^63-1", c, err)
	}
	if err := s.Extend(ctx, "k", math.MaxInt64+1, time.Minute); !errors.Is(err, idemtype.ErrLeaseLost) {
		t.Fatalf("Extend with token 2^63 = %v, want ErrLeaseLost", err)
	}
	if err := s.Extend(ctx, "k", c.Record.Token, time.Minute); err != nil {
		t.Fatalf("Extend with token 2^63-1: %v", err)
	}
	if err := s.Complete(ctx, "k", c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v")}); err != nil {
		t.Fatalf("Complete with token 2^63-1: %v", err)
	}
	if rec, err := s.Get(ctx, "k"); err != nil || rec.Status != idemtype.StatusCompleted || string(rec.Value) != "v" || rec.Token != math.MaxInt64 {
		t.Fatalf("Get = %+v, %v; want the completed record", rec, err)
	}
}

// A token past the sequence's range fences nothing, not even the record of
// the first token, 1.
func TestTokenPastTheSequence(t *testing.T) {
	t.Parallel()
	s := newStore(t, newPool(t, dsn), nil)
	ctx := testCtx(t)
	c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
	if err != nil || !c.Acquired || c.Record.Token != 1 {
		t.Fatalf("Claim = %+v, %v; want acquired with token 1", c, err)
	}
	for _, tok := range []idemtype.Token{1 << 63, math.MaxUint64} {
		if err := s.Extend(ctx, "k", tok, time.Minute); !errors.Is(err, idemtype.ErrLeaseLost) {
			t.Fatalf("Extend with token %d = %v, want ErrLeaseLost", tok, err)
		}
		if err := s.Release(ctx, "k", tok); !errors.Is(err, idemtype.ErrLeaseLost) {
			t.Fatalf("Release with token %d = %v, want ErrLeaseLost", tok, err)
		}
	}
	if rec, err := s.Get(ctx, "k"); err != nil || rec.Status != idemtype.StatusInProgress || rec.Token != 1 {
		t.Fatalf("Get = %+v, %v; want the claim of token 1 in progress", rec, err)
	}
}
