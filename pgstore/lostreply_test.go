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

// armOn is a pgx tracer that arms a replyDropper when a statement
// containing a marker (lower case) starts; a marker of one word must be
// the whole statement.
type armOn struct {
	p      *replyDropper
	marker atomic.Pointer[string]
}

func (a *armOn) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	sql := strings.ToLower(d.SQL)
	m := a.marker.Load()
	if m == nil || !strings.Contains(sql, *m) || !strings.Contains(*m, " ") && sql != *m {
		return ctx
	}
	if a.marker.CompareAndSwap(m, nil) {
		a.p.armed.Store(true)
	}
	return ctx
}

func (a *armOn) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestLostReply: the reply to a store statement is lost after the server
// ran and committed it, and the connection drops. pgx does not send the
// statement again (the proxy counts the queries), the caller hears of a
// failure, and what the server committed holds: no call runs fn twice.
func TestLostReply(t *testing.T) {
	t.Parallel()
	const (
		complete = "set status = $4"
		claim    = "insert into"
		release  = "delete from"
		commit   = "commit"
	)
	cases := []struct {
		name   string
		marker string
		tx     bool // DoTx, else Do
		fails  bool // fn returns an error
		// want is what the first call returns; rows and status what
		// the database holds after it (status 0: no record).
		want      error
		rows      int
		status    idempotency.Status
		retryRuns bool // a retry runs fn again
	}{
		{"DoComplete", complete, false, false, idempotency.ErrNotRecorded, 1, idempotency.StatusCompleted, false},
		{"DoClaim", claim, false, false, idempotency.ErrStore, 0, idempotency.StatusInProgress, true},
		{"DoRelease", release, false, true, errDeclined, 1, 0, true},
		{"DoTxComplete", complete, true, false, idempotency.ErrNotRecorded, 0, 0, true},
		{"DoTxCommit", commit, true, false, idempotency.ErrNotRecorded, 1, idempotency.StatusCompleted, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			direct := newPool(t, dsn)
			var tracer *armOn
			pool, proxy := droppingPool(t, ctx, func(p *replyDropper) pgx.QueryTracer { tracer = &armOn{p: p}; return tracer })
			s := newStore(t, pool, nil)
			g := idempotency.New(s, &idempotency.Config{Lease: 500 * time.Millisecond, WaitTimeout: 20 * time.Second})
			table := ledger(t, direct)
			var runs atomic.Int64
			book := func(ctx context.Context) (int64, error) {
				runs.Add(1)
				if _, err := direct.Exec(ctx, `INSERT INTO `+table+` (key, cents) VALUES ('k', 1)`); err != nil {
					return 0, err
				}
				if tc.fails {
					return 0, errDeclined
				}
				return 7, nil
			}
			call := func() (int64, error) {
				if tc.tx {
					return pgstore.DoTx(ctx, g, "k", func(ctx context.Context, tx pgx.Tx) (int64, error) {
						runs.Add(1)
						_, err := tx.Exec(ctx, `INSERT INTO `+table+` (key, cents) VALUES ('k', 1)`)
						return 7, err
					})
				}
				return idempotency.Do(ctx, g, "k", book)
			}
			m := tc.marker
			tracer.marker.Store(&m)
			before := proxy.executes.Load()
			_, err := call()
			sent := proxy.executes.Load() - before
			if proxy.dropped.Load() != 1 {
				t.Fatalf("no reply dropped (marker %q)", tc.marker)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("first call = %v; want %v", err, tc.want)
			}
			// claim and complete or release; DoTx: BEGIN, the claim's
			// batch, fn's insert, complete, and COMMIT.
			wantSent := int64(2)
			switch {
			case tc.marker == claim:
				wantSent = 1
			case tc.name == "DoTxComplete":
				wantSent = 6
			case tc.tx:
				wantSent = 7
			}
			if sent != wantSent {
				t.Fatalf("%d queries sent; want %d: a statement was sent again", sent, wantSent)
			}
			ran := int64(1)
			if tc.marker == claim {
				ran = 0 // fn does not run without a claim
			}
			if n := ledgerRows(t, direct, table, "k"); n != tc.rows || runs.Load() != ran {
				t.Fatalf("ledger %d rows, fn ran %d times; want %d and %d", n, runs.Load(), tc.rows, ran)
			}
			st := idempotency.Status(0)
			if rec, err := s.Get(ctx, "k"); err == nil {
				st = rec.Status
			} else if !errors.Is(err, idempotency.ErrNotFound) {
				t.Fatal(err)
			}
			if st != tc.status {
				t.Fatalf("record status %v; want %v", st, tc.status)
			}
			v, err := call()
			wantRuns := ran
			if tc.retryRuns {
				wantRuns++
			}
			if runs.Load() != wantRuns || (!tc.fails && (err != nil || v != 7)) {
				t.Fatalf("retry = %d, %v, fn ran %d times; want 7 and %d runs", v, err, runs.Load(), wantRuns)
			}
		})
	}
}

// claimArm is a pgx tracer that arms a replyDropper, passing the results
// on, when the first DoTx claim's batch starts.
type claimArm struct {
	noTrace
	p    *replyDropper
	done atomic.Bool
}

func (a *claimArm) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	if q := d.Batch.QueuedQueries; len(q) > 0 && strings.Contains(q[0].SQL, "set_config('lock_timeout', $1") && a.done.CompareAndSwap(false, true) {
		a.p.keepResults.Store(true)
		a.p.armed.Store(true)
	}
	return ctx
}

// TestDoTxClaimCutBeforeReady: the connection breaks as the reply to a
// DoTx claim ends: the batch's three results arrived, its ReadyForQuery
// did not. The claim fails (ErrStore) rather than hand fn a transaction
// that is gone; nothing is recorded, and a retry runs fn once.
func TestDoTxClaimCutBeforeReady(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	direct := newPool(t, dsn)
	pool, proxy := droppingPool(t, ctx, func(p *replyDropper) pgx.QueryTracer { return &claimArm{p: p} })
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	table := ledger(t, direct)
	var runs atomic.Int64
	_, err := pgstore.DoTx(ctx, g, "k", insert(table, "k", 1, &runs))
	if proxy.dropped.Load() != 1 {
		t.Fatal("the claim's ReadyForQuery was not lost")
	}
	if !errors.Is(err, idempotency.ErrStore) || runs.Load() != 0 {
		t.Fatalf("DoTx = %v, fn ran %d times; want ErrStore, fn not run", err, runs.Load())
	}
	if rec, err := s.Get(ctx, "k"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("record after the cut claim = %+v, %v; want none", rec, err)
	}
	if _, err := pgstore.DoTx(ctx, g, "k", insert(table, "k", 1, &runs)); err != nil || runs.Load() != 1 || ledgerRows(t, direct, table, "k") != 1 {
		t.Fatalf("retry = %v, fn ran %d times, %d ledger rows; want it run once", err, runs.Load(), ledgerRows(t, direct, table, "k"))
	}
}
