package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
)

// TestNestedSameTableOtherSpelling: a guarded call inside DoTx's fn on
// the key DoTx holds, through a Store that names the same table another
// way (schema-qualified or not) or reaches the same database by another
// host name, could only wait for DoTx's row lock: it fails at once with
// ErrNested, as through the same Store, instead of waiting until its
// context ends.
func TestNestedSameTableOtherSpelling(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	bare := strings.Trim(s.Table(), `"`)
	var schema string
	if err := pool.QueryRow(ctx, `SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = $1::regclass`, s.Table()).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	localhost := strings.Replace(dsn, "127.0.0.1", "localhost", 1)
	if localhost == dsn {
		t.Fatalf("dsn %q does not name 127.0.0.1", dsn)
	}
	cases := []struct {
		name  string
		dsn   string
		table string
	}{
		{"SchemaQualified", dsn, schema + "." + bare},
		{"OtherHostName", localhost, bare},
		{"OtherHostNameQualified", localhost, schema + "." + bare},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			other := newStore(t, newPool(t, tc.dsn), &pgstore.Options{Table: tc.table})
			g := idempotency.New(s, &idempotency.Config{OnDuplicate: idempotency.Wait})
			og := idempotency.New(other, &idempotency.Config{OnDuplicate: idempotency.Wait})
			// Bounded: a hang fails here, at 20 s.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			key := "outer-" + tc.name
			var runs atomic.Int64
			var nestedErr error
			_, err := pgstore.DoTx(ctx, g, key, func(ctx context.Context, _ pgx.Tx) (int, error) {
				runs.Add(1)
				_, nestedErr = idempotency.Do(ctx, og, key, func(context.Context) (int, error) { runs.Add(1); return 1, nil })
				return 42, nestedErr
			})
			if ctx.Err() != nil {
				t.Fatalf("the nested call waited until the context ended: %v", nestedErr)
			}
			if !errors.Is(nestedErr, pgstore.ErrNested) || !errors.Is(err, pgstore.ErrNested) || runs.Load() != 1 {
				t.Fatalf("nested call = %v, DoTx = %v, fn ran %d times; want ErrNested, once", nestedErr, err, runs.Load())
			}
		})
	}
}
