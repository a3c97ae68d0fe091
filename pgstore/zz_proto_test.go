package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/jackc/pgx/v5/pgtype"
)

func BenchmarkProtoFn(b *testing.B) {
	pool := newPool(b, dsn)
	s := newStore(b, pool, nil)
	g := idempotency.New(s, nil)
	ctx := context.Background()
	if _, err := idempotency.Do(ctx, g, "dup", func(context.Context) (int, error) { return 1, nil }); err != nil {
		b.Fatal(err)
	}
	claimSQL, _, _ := s.Statements()
	body := claimSQL
	for i := 6; i >= 1; i-- {
		body = strings.ReplaceAll(body, fmt.Sprintf("$%d", i), []string{"p_hash", "p_key", "p_fp", "p_lease", "p_ttl", "p_takeover"}[i-1])
	}
	fn := `CREATE FUNCTION ` + strings.Trim(s.Table(), `"`) + `_claim(p_hash bytea, p_key bytea, p_fp bytea, p_lease bigint, p_ttl bigint, p_takeover boolean)
RETURNS TABLE (key bytea, fingerprint bytea, status smallint, token bigint, value bytea, lease_until timestamptz, expires_at timestamptz, created_at timestamptz, updated_at timestamptz, acquired boolean, took_over boolean, lapsed boolean)
LANGUAGE plpgsql AS $f$
#variable_conflict use_column
DECLARE r record;
BEGIN
  SELECT t.key, t.fingerprint, t.status, t.token, t.value, t.lease_until, t.expires_at, t.created_at, t.updated_at,
    (t.expires_at IS NULL OR t.expires_at > statement_timestamp()) AND t.key = p_key AND NOT (p_takeover AND t.status = 1 AND t.lease_until <= statement_timestamp()) AS held
  INTO r FROM ` + s.Table() + ` t WHERE t.key_hash = p_hash;
  IF FOUND AND r.held THEN
    RETURN QUERY SELECT r.key, r.fingerprint, r.status, r.token, r.value, r.lease_until, r.expires_at, r.created_at, r.updated_at, false, false, false;
    RETURN;
  END IF;
  RETURN QUERY ` + body + `;
END $f$`
	if _, err := pool.Exec(ctx, fn); err != nil {
		b.Fatal(err, fn)
	}
	fnSQL := `SELECT * FROM ` + strings.Trim(s.Table(), `"`) + `_claim($1, $2, $3, $4, $5, $6)`
	selectSQL := `SELECT key, fingerprint, status, token, value, lease_until, expires_at, created_at, updated_at FROM ` + s.Table() + ` WHERE key_hash = $1`
	digest := hashKey("dup")
	ops := []struct {
		name string
		op   func() error
	}{
		{"select", func() error {
			var (
				k, fp, v                 []byte
				status                   int16
				token                    int64
				lease, exp, created, upd pgtype.Timestamptz
			)
			return pool.QueryRow(ctx, selectSQL, digest).Scan(&k, &fp, &status, &token, &v, &lease, &exp, &created, &upd)
		}},
		{"cte", func() error { _, err := rawClaim(ctx, pool, claimSQL, "dup"); return err }},
		{"fn", func() error { _, err := rawClaim(ctx, pool, fnSQL, "dup"); return err }},
		{"fnfirst", func() error { _, err := rawClaim(ctx, pool, fnSQL, benchKey("f")); return err }},
		{"ctefirst", func() error { _, err := rawClaim(ctx, pool, claimSQL, benchKey("c")); return err }},
	}
	for _, o := range ops {
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 8 {
					if err := o.op(); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		wg.Wait()
	}
	_ = time.Second
	for _, n := range []int{1, 16} {
		for _, o := range ops {
			b.Run(fmt.Sprintf("%s/g=%d", o.name, n), func(b *testing.B) { inParallel(b, n, o.op) })
		}
	}
}
