package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// holdMigration is a pgx tracer that holds the first Migrate that reaches
// the read of its schema version (the version table created,
// uncommitted) until release is closed.
type holdMigration struct {
	once    sync.Once
	pid     chan uint32 // the held backend
	release chan struct{}
}

func (h *holdMigration) TraceQueryStart(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "coalesce(max(version), 0)") {
		h.once.Do(func() {
			h.pid <- conn.PgConn().PID()
			<-h.release
		})
	}
	return ctx
}

func (h *holdMigration) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestMigrateSerialisedAcrossSpellings: two processes migrating one table
// at once, one naming it "t" and the other "schema.t", are serialised as
// two with the same spelling are: the second waits for the first and then
// finds its schema, instead of racing it into a duplicate-object error.
func TestMigrateSerialisedAcrossSpellings(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var schema string
	if err := newPool(t, dsn).QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, first, second string }{
		{"BareFirst", "", schema + "."},
		{"QualifiedFirst", schema + ".", ""},
		{"SameSpelling", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			table := fmt.Sprintf("spelled_%d", tables.Add(1))
			hold := &holdMigration{pid: make(chan uint32, 1), release: make(chan struct{})}
			cfg, err := pgxpool.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.ConnConfig.Tracer = hold
			heldPool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer heldPool.Close()
			released := false
			defer func() {
				if !released {
					close(hold.release)
				}
			}()
			newIn := func(pool *pgxpool.Pool, name string) chan error {
				done := make(chan error, 1)
				go func() {
					ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
					defer cancel()
					s, err := pgstore.New(ctx, pool, &pgstore.Options{Table: name})
					if err == nil {
						s.Close()
					}
					done <- err
				}()
				return done
			}
			firstDone := newIn(heldPool, tc.first+table)
			var pid uint32
			select {
			case pid = <-hold.pid:
			case err := <-firstDone:
				t.Fatalf("the first New ended before it was held: %v", err)
			case <-time.After(20 * time.Second):
				t.Fatal("the first New never reached its version read")
			}
			secondDone := newIn(newPool(t, dsn), tc.second+table)
			// Wait (bounded) until the second migration waits for the first.
			probe := newPool(t, dsn)
			deadline := time.Now().Add(20 * time.Second)
			for {
				var waiting bool
				if err := probe.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
					WHERE $1::int = ANY (pg_blocking_pids(pid)))`, int(pid)).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				if waiting {
					break
				}
				select {
				case err := <-secondDone:
					t.Fatalf("the second New ended while the first migration was held: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("the second New never waited for the first")
				}
				time.Sleep(10 * time.Millisecond)
			}
			close(hold.release)
			released = true
			if err := recv(t, "firstDone", firstDone); err != nil {
				t.Fatalf("the first New: %v", err)
			}
			if err := recv(t, "secondDone", secondDone); err != nil {
				t.Fatalf("the second New, after the first committed: %v", err)
			}
		})
	}
}
