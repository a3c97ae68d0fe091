package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// stmtLog is a pgx tracer that logs each statement with its connection.
type stmtLog struct {
	mu   sync.Mutex
	sent []sentStmt
}

type sentStmt struct {
	conn *pgx.Conn
	sql  string
}

func (l *stmtLog) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, sentStmt{c, d.SQL})
	return ctx
}

func (l *stmtLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestDoTxRecordsBeforeCommit: the completion is written in the
// transaction, before its COMMIT, on the same connection; checked in the
// statements sent, and by a completion that fails (a trigger raises): the
// transaction then never commits, so fn's writes vanish with the record
// and the retry books once.
func TestDoTxRecordsBeforeCommit(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	log := &stmtLog{}
	cfg.ConnConfig.Tracer = log
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	table := ledger(t, pool)
	var runs atomic.Int64

	t.Run("Order", func(t *testing.T) {
		log.mu.Lock()
		log.sent = nil
		log.mu.Unlock()
		if _, err := pgstore.DoTx(ctx, g, "ordered", insert(table, "ordered", 1, &runs)); err != nil {
			t.Fatal(err)
		}
		log.mu.Lock()
		defer log.mu.Unlock()
		complete, commit := -1, -1
		for i, st := range log.sent {
			switch {
			case strings.Contains(st.sql, "SET status = $4"):
				complete = i
			case strings.EqualFold(strings.TrimSpace(st.sql), "commit"):
				commit = i
			}
		}
		if complete < 0 || commit < 0 || complete > commit || log.sent[complete].conn != log.sent[commit].conn {
			var sqls []string
			for _, st := range log.sent {
				sqls = append(sqls, strings.Fields(st.sql)[0])
			}
			t.Fatalf("completion at %d, COMMIT at %d (%v); want the completion first, on the transaction's connection", complete, commit, sqls)
		}
	})

	t.Run("FailedCompletion", func(t *testing.T) {
		if _, err := pool.Exec(ctx, `CREATE FUNCTION refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.status = 2 AND NEW.key = 'refused'::bytea THEN RAISE EXCEPTION 'completion refused'; END IF;
				RETURN NEW;
			END $$;
			CREATE TRIGGER refuse_completion BEFORE UPDATE ON `+s.Table()+` FOR EACH ROW EXECUTE FUNCTION refuse_completion()`); err != nil {
			t.Fatal(err)
		}
		v, err := pgstore.DoTx(ctx, g, "refused", insert(table, "refused", 1, &runs))
		if !errors.Is(err, idempotency.ErrNotRecorded) || v != 0 {
			t.Fatalf("DoTx with a failing completion = %d, %v; want 0 and ErrNotRecorded", v, err)
		}
		if n := ledgerRows(t, pool, table, "refused"); n != 0 {
			t.Fatalf("the ledger has %d rows of a call whose completion failed: committed before recording", n)
		}
		if _, err := s.Get(ctx, "refused"); !errors.Is(err, idempotency.ErrNotFound) {
			t.Fatalf("record after the failed completion: %v; want none", err)
		}
		if _, err := pool.Exec(ctx, `DROP TRIGGER refuse_completion ON `+s.Table()); err != nil {
			t.Fatal(err)
		}
		before := runs.Load()
		if _, err := pgstore.DoTx(ctx, g, "refused", insert(table, "refused", 1, &runs)); err != nil {
			t.Fatal(err)
		}
		if n := ledgerRows(t, pool, table, "refused"); n != 1 || runs.Load() != before+1 {
			t.Fatalf("retry: %d ledger rows, fn ran %d more times; want 1 and 1", n, runs.Load()-before)
		}
	})
}
