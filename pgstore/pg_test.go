package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// noTrace is a pgx query and batch tracer that does nothing: a tracer
// embeds it and writes only the hooks it needs.
type noTrace struct{}

func (noTrace) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (noTrace) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (noTrace) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (noTrace) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (noTrace) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// counter is a pgx tracer counting the statements sent, by their first
// word, and the round trips (a query, or a batch of them) under "trips".
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(sql string, trip bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sql != "" {
		w, _, _ := strings.Cut(strings.TrimSpace(sql), " ")
		c.n[strings.ToUpper(w)]++
	}
	if trip {
		c.n[trips]++
	}
}

const trips = "trips"

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.add(d.SQL, true)
	return ctx
}

func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.add("", true)
	return ctx
}

func (c *counter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.add(d.SQL, false)
}

func (c *counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// take returns the counts so far and starts again.
func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// total counts statements.
func total(m map[string]int) int {
	n := 0
	for k, v := range m {
		if k != trips {
			n += v
		}
	}
	return n
}

func tracedPool(t testing.TB) (*pgxpool.Pool, *counter) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{n: map[string]int{}}
	cfg.ConnConfig.Tracer = c
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, c
}

// TestStatementsPerCall: a first call is two statements (claim,
// complete), a duplicate one, a DoTx first call two of its own around
// fn's besides BEGIN and COMMIT.
func TestStatementsPerCall(t *testing.T) {
	t.Parallel()
	pool, c := tracedPool(t)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	ctx := testCtx(t)
	c.take()
	if _, err := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	if n := c.take(); total(n) != 2 || n[trips] != 2 {
		t.Fatalf("first call sent %v; want 2 statements", n)
	}
	if _, err := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) { return 2, nil }); err != nil {
		t.Fatal(err)
	}
	if n := c.take(); total(n) != 1 || n[trips] != 1 {
		t.Fatalf("duplicate call sent %v; want 1 statement", n)
	}
	if _, err := pgstore.DoTx(ctx, g, "tx", func(ctx context.Context, tx pgx.Tx) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	if n := c.take(); total(n) != 6 || n[trips] != 4 || n["BEGIN"] != 1 || n["COMMIT"] != 1 {
		t.Fatalf("DoTx first call sent %v; want BEGIN, settings, claim and restore in one batch, complete, COMMIT", n)
	}
	if _, err := pgstore.DoTx(ctx, g, "tx", func(ctx context.Context, tx pgx.Tx) (int, error) { return 2, nil }); err != nil {
		t.Fatal(err)
	}
	if n := c.take(); total(n) != 5 || n[trips] != 3 {
		t.Fatalf("DoTx duplicate sent %v; want BEGIN, settings, claim and restore in one batch, ROLLBACK", n)
	}
	// A failed DoTx: its ROLLBACK, then one read that its claim did not
	// commit (fn did not commit the transaction itself).
	if _, err := pgstore.DoTx(ctx, g, "tx-fails", func(ctx context.Context, tx pgx.Tx) (int, error) { return 0, errDeclined }); err != errDeclined {
		t.Fatal(err)
	}
	if n := c.take(); total(n) != 6 || n[trips] != 4 || n["ROLLBACK"] != 1 || n["SELECT"] != 3 {
		t.Fatalf("failed DoTx sent %v; want BEGIN, the claim's batch (two SELECTs around it), ROLLBACK and one SELECT", n)
	}

	// A failed call: claim, then release.
	if _, err := idempotency.Do(ctx, g, "fails", func(context.Context) (int, error) { return 0, errors.New("boom") }); err == nil {
		t.Fatal("fn's error lost")
	}
	if n := c.take(); total(n) != 2 || n[trips] != 2 {
		t.Fatalf("failed call sent %v; want claim and release", n)
	}
	// Each store operation alone, the owner's and a stale token's.
	cl, err := s.Claim(ctx, idempotency.ClaimRequest{Key: "ops", Lease: time.Minute, TTL: time.Hour})
	if err != nil || !cl.Acquired {
		t.Fatalf("claim: %+v, %v", cl, err)
	}
	tok := cl.Record.Token
	c.take()
	for _, op := range []struct {
		name    string
		call    func() error
		wantErr error
	}{
		{"Extend", func() error { return s.Extend(ctx, "ops", tok, time.Minute) }, nil},
		{"stale Extend", func() error { return s.Extend(ctx, "ops", tok+1, time.Minute) }, idempotency.ErrLeaseLost},
		{"stale Complete", func() error {
			return s.Complete(ctx, "ops", tok+1, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: []byte("1")})
		}, idempotency.ErrLeaseLost},
		{"stale Release", func() error { return s.Release(ctx, "ops", tok+1) }, idempotency.ErrLeaseLost},
		{"Release", func() error { return s.Release(ctx, "ops", tok) }, nil},
	} {
		if err := op.call(); !errors.Is(err, op.wantErr) {
			t.Fatalf("%s: %v, want %v", op.name, err, op.wantErr)
		}
		if n := c.take(); total(n) != 1 || n[trips] != 1 {
			t.Fatalf("%s sent %v; want 1 statement", op.name, n)
		}
	}
}

// TestClaimSeesRowCommittedMidStatement: a claim that waits on a row
// inserted by a transaction still open returns that row once it commits,
// though the row is not in the claim's snapshot (READ COMMITTED).
func TestClaimSeesRowCommittedMidStatement(t *testing.T) {
	t.Parallel()
	pool, c := tracedPool(t)
	s := newStore(t, pool, nil)
	g := idempotency.New(s, nil)
	ctx := testCtx(t)
	for _, status := range []idemtype.Status{idemtype.StatusCompleted, idemtype.StatusInProgress} {
		t.Run(status.String(), func(t *testing.T) {
			key := "k-" + status.String()
			inside, release := make(chan struct{}), make(chan struct{})
			done := make(chan error, 1)
			go func() {
				_, err := pgstore.DoTx(ctx, g, key, func(ctx context.Context, tx pgx.Tx) (string, error) {
					close(inside)
					<-release
					if status == idemtype.StatusInProgress {
						return "", errDeclined // rolled back: the claim then inserts
					}
					return "v", nil
				})
				done <- err
			}()
			recv(t, "inside", inside)
			c.take()
			got := make(chan idemtype.Claim, 1)
			go func() {
				cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour, Takeover: true})
				if err != nil {
					t.Error(err)
				}
				got <- cl
			}()
			time.Sleep(200 * time.Millisecond) // the claim now waits on the row lock
			close(release)
			recv(t, "done", done)
			cl := recv(t, "got", got)
			n := c.take()
			if status == idemtype.StatusCompleted {
				if cl.Acquired || cl.Record.Status != idemtype.StatusCompleted || string(cl.Record.Value) != `"v"` {
					t.Fatalf("claim after a concurrent commit = %+v", cl)
				}
				// The first run of the statement could not see the row.
				if n["WITH"] != 2 {
					t.Fatalf("claim statements: %v; want 2 runs of the claim", n)
				}
				return
			}
			if !cl.Acquired {
				t.Fatalf("claim after a concurrent rollback = %+v; want acquired", cl)
			}
		})
	}
}

// TestCorruptRecords: rows that cannot be read are ErrCorrupt for Get and
// Claim, never not-found, never acquired, never another key's record.
func TestCorruptRecords(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, set string
	}{
		{"UnknownStatus", "status = 9"},
		{"OtherKey", "key = 'other'::bytea"},
		{"ZeroToken", "token = 0"},
		{"InfiniteLease", "lease_until = 'infinity'"},
		{"InfiniteCreation", "created_at = '-infinity'"},
	}
	for _, tc := range cases {
		for _, rf := range []idemtype.ReadFirst{idemtype.ReadFirstNever, idemtype.ReadFirstAlways} {
			t.Run(tc.name+"/read first "+rf.String(), func(t *testing.T) {
				t.Parallel()
				pool := newPool(t, dsn)
				s := newStore(t, pool, &pgstore.Options{ReadFirst: rf})
				ctx := testCtx(t)
				for _, k := range []string{"k", "other"} {
					cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: k, Lease: time.Minute, TTL: time.Hour})
					if err != nil || !cl.Acquired {
						t.Fatal(cl, err)
					}
					if err := s.Complete(ctx, k, cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(k), TTL: time.Hour}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := pool.Exec(ctx, `UPDATE `+s.Table()+` SET `+tc.set+` WHERE key = 'k'::bytea`); err != nil {
					t.Fatal(err)
				}
				if rec, err := s.Get(ctx, "k"); !errors.Is(err, idemtype.ErrCorrupt) {
					t.Fatalf("Get of a corrupt row = %+v, %v; want ErrCorrupt", rec, err)
				}
				for _, takeover := range []bool{false, true} {
					if cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour, Takeover: takeover}); !errors.Is(err, idemtype.ErrCorrupt) {
						t.Fatalf("Claim of a corrupt row = %+v, %v; want ErrCorrupt", cl, err)
					}
				}
				if rec, err := s.Get(ctx, "other"); err != nil || string(rec.Value) != "other" {
					t.Fatalf("Get of the other key = %+v, %v", rec, err)
				}
				// Through the guard: ErrStore, fn not run; an operator's
				// Forget frees the key.
				g := idempotency.New(s, nil)
				ran := false
				if _, err := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) { ran = true; return 1, nil }); !errors.Is(err, idempotency.ErrStore) || !errors.Is(err, idempotency.ErrCorrupt) || ran {
					t.Fatalf("Do on a corrupt row = %v (ran %v); want ErrStore and ErrCorrupt, fn not run", err, ran)
				}
				if err := g.Forget(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				if _, err := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) { ran = true; return 1, nil }); err != nil || !ran {
					t.Fatalf("Do after Forget = %v (ran %v)", err, ran)
				}
			})
		}
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	ctx := testCtx(t)
	table := fmt.Sprintf("migrated_%d", tables.Add(1))

	if _, err := pgstore.New(ctx, pool, &pgstore.Options{Table: table, ManualMigrate: true}); !errors.Is(err, pgstore.ErrSchema) {
		t.Fatalf("New without a schema = %v; want ErrSchema", err)
	}
	// Many processes may start at once: concurrent migrations serialise.
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := pgstore.New(ctx, pool, &pgstore.Options{Table: table})
			if err != nil {
				t.Error(err)
				failed.Add(1)
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	s, err := pgstore.New(ctx, pool, &pgstore.Options{Table: table, ManualMigrate: true})
	if err != nil {
		t.Fatalf("New on a migrated schema: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	var versions int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+table+`_schema`).Scan(&versions); err != nil || versions != pgstore.SchemaVersion {
		t.Fatalf("version rows = %d, %v; want %d", versions, err, pgstore.SchemaVersion)
	}
	// A schema from a later release is refused, not half-used.
	if _, err := pool.Exec(ctx, `INSERT INTO `+table+`_schema (version) VALUES ($1)`, pgstore.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); !errors.Is(err, pgstore.ErrSchema) {
		t.Fatalf("Migrate on a newer schema = %v; want ErrSchema", err)
	}
	if _, err := pgstore.New(ctx, pool, &pgstore.Options{Table: table, ManualMigrate: true}); !errors.Is(err, pgstore.ErrSchema) {
		t.Fatalf("New on a newer schema = %v; want ErrSchema", err)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	ctx := testCtx(t)
	if _, err := pgstore.New(ctx, nil, nil); err == nil || !strings.HasPrefix(err.Error(), "idempotency: pgstore: ") {
		t.Fatalf("New(nil pool) = %v", err)
	}
	bad := []struct {
		name string
		opts pgstore.Options
	}{
		{"UpperCase", pgstore.Options{Table: "Records"}},
		{"Quote", pgstore.Options{Table: `r"; DROP TABLE x; --`}},
		{"ThreeParts", pgstore.Options{Table: "a.b.c"}},
		{"EmptyPart", pgstore.Options{Table: "a."}},
		{"TooLong", pgstore.Options{Table: strings.Repeat("a", 49)}},
		{"TinyLockWait", pgstore.Options{LockWait: time.Microsecond}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if s, err := pgstore.New(ctx, pool, &tc.opts); err == nil || !strings.HasPrefix(err.Error(), "idempotency: pgstore: ") {
				if s != nil {
					s.Close()
				}
				t.Fatalf("New(%+v) = %v; want an idempotency: pgstore: error", tc.opts, err)
			}
		})
	}
	t.Run("SchemaQualified", func(t *testing.T) {
		t.Parallel()
		schema := fmt.Sprintf("app_%d", tables.Add(1))
		if _, err := pool.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
			t.Fatal(err)
		}
		s := newStore(t, pool, &pgstore.Options{Table: schema + ".records"})
		if s.Table() != `"`+schema+`"."records"` {
			t.Fatalf("Table() = %s", s.Table())
		}
		g := idempotency.New(s, &idempotency.Config{OnDuplicate: idempotency.Wait})
		if _, err := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSweepBatches: Sweep removes every expired row in batches and keeps
// the live ones.
func TestSweepBatches(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	s := newStore(t, pool, &pgstore.Options{SweepBatch: 100})
	ctx := testCtx(t)
	if _, err := pool.Exec(ctx, `INSERT INTO `+s.Table()+` (key_hash, key, fingerprint, status, token, lease_until, expires_at, created_at, updated_at)
		SELECT sha256(convert_to('e' || i, 'UTF8')), convert_to('e' || i, 'UTF8'), '', 2, i, now(), now() - interval '1 second', now(), now()
		FROM generate_series(1, 1050) i`); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"live", "forever"} {
		ttl := time.Hour
		if k == "forever" {
			ttl = -1
		}
		cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: k, Lease: time.Minute, TTL: ttl})
		if err != nil || !cl.Acquired {
			t.Fatal(cl, err)
		}
	}
	if _, err := s.Get(ctx, "e7"); !errors.Is(err, idemtype.ErrNotFound) {
		t.Fatalf("Get of an expired row = %v; want ErrNotFound", err)
	}
	n, err := s.Sweep(ctx)
	if err != nil || n != 1050 {
		t.Fatalf("Sweep = %d, %v; want 1050", n, err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+s.Table()).Scan(&left); err != nil || left != 2 {
		t.Fatalf("%d rows left, %v; want the 2 live ones", left, err)
	}
	// The sweep's scan can use the expiry index.
	var plan strings.Builder
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `EXPLAIN SELECT key_hash FROM `+s.Table()+` WHERE expires_at <= statement_timestamp() ORDER BY expires_at LIMIT 100`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if !strings.Contains(plan.String(), "_expires_idx") {
		t.Fatalf("sweep plan does not use the expiry index:\n%s", plan.String())
	}
}

// TestWatchAcrossStores: a waiter on one store (its own pool and
// listening connection, as another process would have) is woken by a
// completion through another, and again after its listening connection
// is killed and comes back.
func TestWatchAcrossStores(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	writer := newStore(t, newPool(t, dsn), nil)
	table := strings.Trim(writer.Table(), `"`)
	watcherPool := newPool(t, dsn)
	watcher := newStore(t, watcherPool, &pgstore.Options{Table: table, PollInterval: time.Hour})

	wakeOn := func(key string) {
		t.Helper()
		cl, err := writer.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour})
		if err != nil || !cl.Acquired {
			t.Fatal(cl, err)
		}
		ch, stop, err := watcher.Watch(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		select {
		case <-ch:
			t.Fatal("woken before any change")
		case <-time.After(100 * time.Millisecond):
		}
		if err := writer.Complete(ctx, key, cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("watcher of %q not woken by a completion in another store", key)
		}
	}
	wakeOn("a")

	// Kill the listening connection: waiters wake (a notification may
	// have been lost), and notifications flow again once it is back.
	cl, err := writer.Claim(ctx, idemtype.ClaimRequest{Key: "b", Lease: time.Minute, TTL: time.Hour})
	if err != nil || !cl.Acquired {
		t.Fatal(cl, err)
	}
	ch, stop, err := watcher.Watch(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := server.Exec("postgres", `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN "idempotency_`+table+`"%'`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("waiter not woken when the listening connection died")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := watcherPool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN "idempotency_`+table+`"%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("listening connection not back within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	wakeOn("c")
}

// TestWaitingDuplicateIsNotified: under Wait, a duplicate in another
// store (another process) gets the first call's result as soon as it is
// recorded, without polling (PollInterval an hour, lease a minute).
func TestWaitingDuplicateIsNotified(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	a := newStore(t, newPool(t, dsn), nil)
	b := newStore(t, newPool(t, dsn), &pgstore.Options{Table: strings.Trim(a.Table(), `"`), PollInterval: time.Hour})
	cfg := &idempotency.Config{OnDuplicate: idempotency.Wait, Lease: time.Minute}
	ga, gb := idempotency.New(a, cfg), idempotency.New(b, cfg)
	inside, release := make(chan struct{}), make(chan struct{})
	go func() {
		_, _ = idempotency.Do(ctx, ga, "k", func(context.Context) (string, error) {
			close(inside)
			<-release
			return "first", nil
		})
	}()
	recv(t, "inside", inside)
	got := make(chan string, 1)
	go func() {
		v, err := idempotency.Do(ctx, gb, "k", func(context.Context) (string, error) { return "second", nil })
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	time.Sleep(200 * time.Millisecond)
	close(release)
	select {
	case v := <-got:
		if v != "first" {
			t.Fatalf("duplicate got %q; want %q", v, "first")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("waiting duplicate not woken within 20s (lease a minute, no polling): no notification")
	}
}

// TestPollingWithoutListener: when the listening connection cannot be
// made (here the role's connection limit is used up), waiters poll and
// still get the outcome long before the lease would lapse.
func TestPollingWithoutListener(t *testing.T) {
	t.Parallel()
	dsn := server.CreateDB(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	role := cfg.ConnConfig.User
	if err := server.Exec("postgres", `ALTER ROLE `+role+` CONNECTION LIMIT 2`); err != nil {
		t.Fatal(err)
	}
	onePool := func() *pgxpool.Pool {
		c := cfg.Copy()
		c.MaxConns = 1
		p, err := pgxpool.NewWithConfig(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if err := p.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := newStore(t, onePool(), nil)
	b := newStore(t, onePool(), &pgstore.Options{Table: strings.Trim(a.Table(), `"`), PollInterval: 50 * time.Millisecond})
	gcfg := &idempotency.Config{OnDuplicate: idempotency.Wait, Lease: time.Minute}
	ctx := testCtx(t)
	cl, err := a.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
	if err != nil || !cl.Acquired {
		t.Fatal(cl, err)
	}
	got := make(chan error, 1)
	go func() {
		// Without polling this would sleep until the lease lapses, past
		// its context.
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		v, err := idempotency.Do(wctx, idempotency.New(b, gcfg), "k", func(context.Context) (string, error) { return "second", nil })
		if err == nil && v != "first" {
			err = fmt.Errorf("got %q, want %q", v, "first")
		}
		got <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := a.Complete(ctx, "k", cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(`"first"`), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, "got", got); err != nil {
		t.Fatalf("waiter without notifications: %v", err)
	}
}
