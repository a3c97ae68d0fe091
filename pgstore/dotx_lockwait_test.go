package pgstore_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lockTimeouts is a pgx tracer keeping the lock_timeout each DoTx claim
// is sent with, in order.
type lockTimeouts struct {
	noTrace
	mu   sync.Mutex
	sent []string
	more chan struct{} // a value each time one is kept
}

func (l *lockTimeouts) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	if !strings.Contains(d.SQL, "set_config('lock_timeout', $1") || len(d.Args) != 1 {
		return
	}
	l.mu.Lock()
	l.sent = append(l.sent, d.Args[0].(string))
	l.mu.Unlock()
	select {
	case l.more <- struct{}{}:
	default: // the test reads only the first few
	}
}

// TestDoTxDuplicateBlocksOnTheLock: a DoTx duplicate of a DoTx call still
// running first tries the locked row without waiting (so that the guard's
// policy decides), then, each time it claims again, blocks on the lock up
// to Options.LockWait, in case the commit's notification was lost.
func TestDoTxDuplicateBlocksOnTheLock(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	first := newStore(t, newPool(t, dsn), nil)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	trace := &lockTimeouts{more: make(chan struct{}, 16)}
	cfg.ConnConfig.Tracer = trace
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	second := newStore(t, pool, &pgstore.Options{Table: strings.Trim(first.Table(), `"`), LockWait: 250 * time.Millisecond, PollInterval: time.Hour})
	gcfg := &idempotency.Config{OnDuplicate: idempotency.Wait}

	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := pgstore.DoTx(ctx, idempotency.New(first, gcfg), "k", func(context.Context, pgx.Tx) (string, error) {
			close(inside)
			<-release
			return "first", nil
		})
		done <- err
	}()
	recv(t, "inside", inside)
	var runs atomic.Int64
	got := make(chan string, 1)
	go func() {
		v, err := pgstore.DoTx(ctx, idempotency.New(second, gcfg), "k", func(context.Context, pgx.Tx) (string, error) {
			runs.Add(1)
			return "second", nil
		})
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	// The duplicate's first claim, and one more after the busy row's
	// LockWait, both while the first call holds the row.
	recv(t, "the duplicate's first claim", trace.more)
	recv(t, "the duplicate's second claim", trace.more)
	close(release)
	if err := recv(t, "the first call", done); err != nil {
		t.Fatal(err)
	}
	if v := recv(t, "the duplicate", got); v != "first" || runs.Load() != 0 {
		t.Fatalf("duplicate got %q, fn ran %d times; want %q and 0", v, runs.Load(), "first")
	}
	trace.mu.Lock()
	sent := trace.sent[:2]
	trace.mu.Unlock()
	if sent[0] != "1ms" || sent[1] != "250ms" {
		t.Fatalf("the duplicate's claims waited for the lock %q; want 1ms, then LockWait (250ms)", sent)
	}
}
