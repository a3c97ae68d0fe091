package pgstore_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/idempotency-go/idempotency/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestRawRows: a record row read from its raw values is exactly what
// pgx's Scan makes of it, times (their zone included), NULLs, empty and
// infinite values and corrupt rows alike; a row the raw reader cannot
// take (here a NULL status) is left to Scan, whose error stands.
func TestRawRows(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	s := newStore(t, pool, nil)
	ctx := testCtx(t)
	table := s.Table()
	if _, err := pool.Exec(ctx, `ALTER TABLE `+table+` ALTER COLUMN status DROP NOT NULL`); err != nil {
		t.Fatal(err)
	}
	query := `SELECT ` + pgstore.Cols + `, true, false, true FROM ` + table + ` WHERE key_hash = $1`
	for _, tc := range []struct {
		name string
		// SQL expressions for the row's columns, in place of the defaults
		set     map[string]string
		raw     bool
		corrupt bool
	}{
		{"Completed", nil, true, false},
		{"InProgressNullValue", map[string]string{"status": "1", "value": "NULL"}, true, false},
		{"EmptyValue", map[string]string{"value": "''::bytea"}, true, false},
		{"EmptyFingerprint", map[string]string{"fingerprint": "''::bytea"}, true, false},
		{"NeverExpires", map[string]string{"expires_at": "NULL"}, true, false},
		{"Before1970", map[string]string{"created_at": "'1969-12-31 23:59:59.999999+00'"}, true, false},
		{"Before2000", map[string]string{"updated_at": "'1999-06-01 12:00:00.5+00'"}, true, false},
		{"Year9999", map[string]string{"expires_at": "'9999-12-31 23:59:59.999999+00'"}, true, false},
		{"InfiniteExpiry", map[string]string{"expires_at": "'infinity'"}, true, true},
		{"NegativeInfiniteLease", map[string]string{"lease_until": "'-infinity'"}, true, true},
		{"OddStatus", map[string]string{"status": "9"}, true, true},
		{"ZeroToken", map[string]string{"token": "0"}, true, true},
		{"AnotherKey", map[string]string{"key": "convert_to($2 || '-another', 'UTF8')"}, true, true},
		{"EmptyKey", map[string]string{"key": "convert_to(left($2, 0), 'UTF8')"}, true, true},
		{"NullStatus", map[string]string{"status": "NULL"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := tc.name
			v := map[string]string{
				"key": "convert_to($2, 'UTF8')", "fingerprint": "'fp'::bytea", "status": "2", "token": "42",
				"value": `'{"a":1}'::bytea`, "lease_until": "now()", "expires_at": "now() + interval '1 hour'",
				"created_at": "now() - interval '1 second'", "updated_at": "now()",
			}
			for c, e := range tc.set {
				v[c] = e
			}
			if _, err := pool.Exec(ctx, `INSERT INTO `+table+` (key_hash, key, fingerprint, status, token, value, lease_until, expires_at, created_at, updated_at)
				VALUES ($1, `+v["key"]+`, `+v["fingerprint"]+`, `+v["status"]+`, `+v["token"]+`, `+v["value"]+`, `+
				v["lease_until"]+`, `+v["expires_at"]+`, `+v["created_at"]+`, `+v["updated_at"]+`)`, pgstore.HashKey(key), key); err != nil {
				t.Fatal(err)
			}
			var scanned [3]bool
			want, wantErr := pgstore.ScanRecord(pool.QueryRow(ctx, query, pgstore.HashKey(key)), key, &scanned[0], &scanned[1], &scanned[2])
			if tc.corrupt != errors.Is(wantErr, idemtype.ErrCorrupt) || !tc.corrupt && tc.raw && wantErr != nil {
				t.Fatalf("Scan: %v", wantErr)
			}

			conn, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			rows, err := conn.Query(ctx, query, pgstore.HashKey(key))
			if err != nil {
				t.Fatal(err)
			}
			if !rows.Next() {
				t.Fatalf("no row: %v", rows.Err())
			}
			var flags [3]bool
			got, raw, err := pgstore.ReadRaw(rows, key, &flags[0], &flags[1], &flags[2])
			rows.Close()
			if raw != tc.raw {
				t.Fatalf("read raw: %v; want %v", raw, tc.raw)
			}
			// The connection reads its next result into the buffer the
			// row was read from: the record must not share it.
			if _, err := conn.Exec(ctx, `SELECT repeat('z', 4096)::bytea, repeat('y', 4096)::bytea`); err != nil {
				t.Fatal(err)
			}
			if raw {
				same(t, "raw", got, flags, err, want, scanned, wantErr)
			}

			// Raw where it can, else Scan: the same either way.
			flags = [3]bool{}
			rows, err = pool.Query(ctx, query, pgstore.HashKey(key))
			got, err = pgstore.ReadRecord(rows, err, key, &flags[0], &flags[1], &flags[2])
			same(t, "ReadRecord", got, flags, err, want, scanned, wantErr)
		})
	}
}

// same compares a record, its flags and error read one way with those
// read by Scan.
func same(t *testing.T, how string, got idemtype.Record, flags [3]bool, err error, want idemtype.Record, wantFlags [3]bool, wantErr error) {
	t.Helper()
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("%s: error %v; Scan's %v", how, err, wantErr)
	}
	if err != nil {
		return
	}
	if !reflect.DeepEqual(got, want) || flags != wantFlags {
		t.Fatalf("%s:\n%#v %v\nScan:\n%#v %v", how, got, flags, want, wantFlags)
	}
}

// TestRawRowsNotTaken: where the raw values are not read as pgx would
// scan them, the store scans: times in the zone a pool's type map asks
// for, and results in text format (the simple protocol, as behind a
// pooler in transaction mode).
func TestRawRowsNotTaken(t *testing.T) {
	t.Parallel()
	configured := func(t *testing.T, set func(*pgxpool.Config)) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		set(cfg)
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	utc := func(cfg *pgxpool.Config) {
		cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
			c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID, Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
			return nil
		}
	}
	for _, tc := range []struct {
		name string
		pool *pgxpool.Pool
		zone *time.Location
	}{
		{"Default", newPool(t, dsn), time.Local},
		{"ScanLocation", configured(t, utc), time.UTC},
		{"SimpleProtocol", configured(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol }), time.Local},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, tc.pool, nil)
			ctx := testCtx(t)
			cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour})
			if err != nil || !cl.Acquired {
				t.Fatalf("Claim = %+v, %v", cl, err)
			}
			if err := s.Complete(ctx, "k", cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
			for _, read := range []func() (idemtype.Record, error){
				func() (idemtype.Record, error) { return s.Get(ctx, "k") },
				func() (idemtype.Record, error) {
					c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour})
					return c.Record, err
				},
			} {
				rec, err := read()
				if err != nil || rec.Status != idemtype.StatusCompleted || string(rec.Value) != "v" || rec.Token != cl.Record.Token {
					t.Fatalf("read %+v, %v", rec, err)
				}
				for _, at := range []time.Time{rec.CreatedAt, rec.UpdatedAt, rec.LeaseUntil, rec.ExpiresAt} {
					if at.Location() != tc.zone || !at.Equal(at.Truncate(time.Microsecond)) {
						t.Fatalf("time %v in %v; want %v", at, at.Location(), tc.zone)
					}
				}
			}
		})
	}
}

// TestConformanceSimpleProtocol: the conformance suite through a pool on
// the simple protocol (text results, no prepared statements), as behind
// a pooler in transaction mode.
func TestConformanceSimpleProtocol(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	storetest.Run(t, func(t *testing.T) idemtype.Store { return newStore(t, pool, nil) })
}
