package pgstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// joinBackend is a store JoinTx joins, as a handler sees it.
type joinBackend struct {
	name string
	// store returns a store on its own table of dsn.
	store func(t *testing.T) idempotency.Store
	// open returns a store on the existing table in a child process.
	open func(ctx context.Context, dsn, table string) (idempotency.Store, func(), error)
	// exec runs a statement in the request's transaction.
	exec func(r *http.Request, stmt string, args ...any) error
	// commit tries to commit the request's transaction.
	commit func(r *http.Request) error
}

var errNoTx = errors.New("no joined transaction")

var joinBackends = []joinBackend{{
	name:  "pgx",
	store: func(t *testing.T) idempotency.Store { return newStore(t, newPool(t, dsn), nil) },
	open: func(ctx context.Context, dsn, table string) (idempotency.Store, func(), error) {
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return nil, nil, err
		}
		s, err := pgstore.New(ctx, pool, &pgstore.Options{Table: table, ManualMigrate: true})
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		return s, func() { s.Close(); pool.Close() }, nil
	},
	exec: func(r *http.Request, stmt string, args ...any) error {
		tx, ok := pgstore.TxFromRequest(r)
		if !ok {
			return errNoTx
		}
		_, err := tx.Exec(r.Context(), stmt, args...)
		return err
	},
	commit: func(r *http.Request) error {
		tx, ok := pgstore.TxFromRequest(r)
		if !ok {
			return errNoTx
		}
		return tx.Commit(r.Context())
	},
}, {
	name:  "sql",
	store: func(t *testing.T) idempotency.Store { return newDBStore(t, newSQLDB(t, dsn), nil) },
	open: func(ctx context.Context, dsn, table string) (idempotency.Store, func(), error) {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, nil, err
		}
		s, err := pgstore.NewDB(ctx, db, &pgstore.Options{Table: table, ManualMigrate: true})
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		return s, func() { db.Close() }, nil
	},
	exec: func(r *http.Request, stmt string, args ...any) error {
		tx, ok := pgstore.SQLTxFromRequest(r)
		if !ok {
			return errNoTx
		}
		_, err := tx.ExecContext(r.Context(), stmt, args...)
		return err
	},
	commit: func(r *http.Request) error {
		tx, ok := pgstore.SQLTxFromRequest(r)
		if !ok {
			return errNoTx
		}
		return tx.Commit()
	},
}}

// joinScope is the client scope of every joined request in these tests.
const joinScope = "tenant"

// joinEnv is a real HTTP server whose handler writes to a ledger in the
// request's joined transaction.
type joinEnv struct {
	t     *testing.T
	b     joinBackend
	pool  *pgxpool.Pool // to look at the ledger
	store idempotency.Store
	g     *idempotency.Guard
	table string
	srv   *httptest.Server
	runs  atomic.Int64
}

// joinHandler is a handler of a joinEnv: n is its run, from 1.
type joinHandler func(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64)

func newJoinEnv(t *testing.T, b joinBackend, mw *idemhttp.Config, h joinHandler) *joinEnv {
	t.Helper()
	e := &joinEnv{t: t, b: b, pool: newPool(t, dsn), store: b.store(t)}
	e.table = ledger(t, e.pool)
	e.g = idempotency.New(e.store, nil)
	c := idemhttp.Config{}
	if mw != nil {
		c = *mw
	}
	c.Join = pgstore.JoinTx
	c.Scope = func(*http.Request) string { return joinScope }
	guarded := idemhttp.New(e.g, &c)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(e, w, r, e.runs.Add(1))
	}))
	// The panic of a handler goes on to this recovery middleware.
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				http.Error(w, fmt.Sprint("recovered: ", p), http.StatusInternalServerError)
			}
		}()
		guarded.ServeHTTP(w, r)
	}))
	e.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(e.srv.Close)
	return e
}

// book writes key's ledger row in the request's transaction.
func (e *joinEnv) book(r *http.Request, key string) error {
	return e.b.exec(r, `INSERT INTO `+e.table+` (key, cents) VALUES ($1, 1)`, key)
}

type joinResp struct {
	status int
	header http.Header
	body   string
}

func (e *joinEnv) post(ctx context.Context, key string) (joinResp, error) {
	return postKey(ctx, e.srv.URL, key)
}

func postKey(ctx context.Context, url, key string) (joinResp, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/book", strings.NewReader("cents=1"))
	if err != nil {
		return joinResp{}, err
	}
	r.Header.Set(idemhttp.HeaderKey, `"`+key+`"`)
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		return joinResp{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return joinResp{status: res.StatusCode, header: res.Header, body: string(body)}, err
}

func (e *joinEnv) mustPost(key string) joinResp {
	e.t.Helper()
	res, err := e.post(testCtx(e.t), key)
	if err != nil {
		e.t.Fatalf("POST %s: %v", key, err)
	}
	return res
}

// want checks the ledger rows of key, its record's status (0: no
// record) and the handler's runs.
func (e *joinEnv) want(key string, rows int, status idemtype.Status, runs int64) {
	e.t.Helper()
	rec, err := e.g.Lookup(testCtx(e.t), idemhttp.RecordKey("", joinScope, key))
	got := idemtype.Status(0)
	switch {
	case err == nil:
		got = rec.Status
	case !errors.Is(err, idempotency.ErrNotFound):
		e.t.Fatalf("Lookup(%s): %v", key, err)
	}
	if n := ledgerRows(e.t, e.pool, e.table, key); n != rows || got != status || e.runs.Load() != runs {
		e.t.Fatalf("%s: %d ledger rows, record status %v, %d runs; want %d, %v, %d", key, n, got, e.runs.Load(), rows, status, runs)
	}
}

func wantStatus(t *testing.T, res joinResp, status int, body string) {
	t.Helper()
	if res.status != status || !strings.Contains(res.body, body) {
		t.Fatalf("response %d %q; want %d with %q", res.status, res.body, status, body)
	}
}

func wantProblem(t *testing.T, res joinResp, status int, problem string) {
	t.Helper()
	wantStatus(t, res, status, idemhttp.DefaultProblemBase+problem)
}

// created books key and answers 201 with a header and a body naming the
// run, so that a second run cannot pass for a replay.
func created(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64) {
	if err := e.book(r, "k"); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Location", fmt.Sprint("/book/", n))
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, "booked in run %d\n", n)
}

// TestJoinTx is the transaction-join matrix: for each backend, the
// ledger, the record, the client's response and the handler's runs after
// each way a joined request can end.
func TestJoinTx(t *testing.T) {
	t.Parallel()
	const completed, none = idemtype.StatusCompleted, idemtype.Status(0)
	cases := []struct {
		name string
		mw   *idemhttp.Config
		h    joinHandler
		// check sends the requests and checks what they left.
		check func(t *testing.T, e *joinEnv)
	}{{
		name: "commit",
		h:    created,
		check: func(t *testing.T, e *joinEnv) {
			first := e.mustPost("k")
			wantStatus(t, first, http.StatusCreated, "booked in run 1")
			if first.header.Get("Location") != "/book/1" {
				t.Fatalf("first response headers %v; want the handler's Location", first.header)
			}
			e.want("k", 1, completed, 1)
			again := e.mustPost("k")
			if again.status != first.status || again.body != first.body || again.header.Get("Location") != "/book/1" ||
				again.header.Get(idemhttp.HeaderReplayed) != "true" {
				t.Fatalf("replay %d %v %q; want %d %q replayed", again.status, again.header, again.body, first.status, first.body)
			}
			e.want("k", 1, completed, 1)
		},
	}, {
		name: "released status rolls back",
		h: func(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64) {
			if n > 2 {
				created(e, w, r, n)
				return
			}
			if err := e.book(r, "k"); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Retry-After", "7")
			status := map[int64]int{1: http.StatusServiceUnavailable, 2: http.StatusTooManyRequests}[n]
			http.Error(w, "try again", status)
		},
		check: func(t *testing.T, e *joinEnv) {
			for i, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
				res := e.mustPost("k")
				wantStatus(t, res, status, "try again")
				if res.header.Get("Retry-After") != "7" {
					t.Fatalf("released response headers %v; want the handler's", res.header)
				}
				e.want("k", 0, none, int64(i+1))
			}
			wantStatus(t, e.mustPost("k"), http.StatusCreated, "booked in run 3")
			e.want("k", 1, completed, 3)
		},
	}, {
		name: "kept 4xx commits",
		h: func(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64) {
			if err := e.book(r, "k"); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			http.Error(w, fmt.Sprint("card declined in run ", n), http.StatusPaymentRequired)
		},
		check: func(t *testing.T, e *joinEnv) {
			wantStatus(t, e.mustPost("k"), http.StatusPaymentRequired, "declined in run 1")
			e.want("k", 1, completed, 1)
			wantStatus(t, e.mustPost("k"), http.StatusPaymentRequired, "declined in run 1")
			e.want("k", 1, completed, 1)
		},
	}, {
		name: "discard rolls back",
		h: func(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64) {
			if n == 1 {
				idemhttp.Discard(r)
			}
			created(e, w, r, n)
		},
		check: func(t *testing.T, e *joinEnv) {
			wantStatus(t, e.mustPost("k"), http.StatusCreated, "booked in run 1")
			e.want("k", 0, none, 1)
			wantStatus(t, e.mustPost("k"), http.StatusCreated, "booked in run 2")
			e.want("k", 1, completed, 2)
		},
	}, {
		name: "panic rolls back",
		h: func(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64) {
			created(e, w, r, n)
			if n == 1 {
				panic("after the response was written")
			}
		},
		check: func(t *testing.T, e *joinEnv) {
			// The panic went on to the recovery middleware; nothing of
			// the handler's response was sent.
			res := e.mustPost("k")
			wantStatus(t, res, http.StatusInternalServerError, "recovered: after the response")
			if strings.Contains(res.body, "booked") || res.header.Get("Location") != "" {
				t.Fatalf("the client saw the panicking handler's response: %v %q", res.header, res.body)
			}
			e.want("k", 0, none, 1)
			wantStatus(t, e.mustPost("k"), http.StatusCreated, "booked in run 2")
			e.want("k", 1, completed, 2)
		},
	}, {
		name: "too large rolls back",
		mw:   &idemhttp.Config{MaxResponseBytes: 64},
		h: func(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64) {
			if err := e.book(r, "k"); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusCreated)
			if _, err := w.Write(make([]byte, 40)); err != nil {
				panic(err)
			}
			if _, err := w.Write(make([]byte, 40)); !errors.Is(err, idemhttp.ErrResponseTooLarge) {
				panic(fmt.Sprint("Write past the limit: ", err))
			}
		},
		check: func(t *testing.T, e *joinEnv) {
			wantProblem(t, e.mustPost("k"), http.StatusInternalServerError, idemhttp.ProblemResponseTooLarge)
			e.want("k", 0, none, 1)
		},
	}, {
		name: "commit failure is 503",
		h: func(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64) {
			// A deferred constraint fails at COMMIT, after the handler
			// returned and the response was recorded.
			if err := e.b.exec(r, `INSERT INTO `+e.table+`_uniq (v) VALUES (1)`); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			created(e, w, r, n)
		},
		check: func(t *testing.T, e *joinEnv) {
			ctx := testCtx(t)
			if _, err := e.pool.Exec(ctx, `CREATE TABLE `+e.table+`_uniq (v int UNIQUE DEFERRABLE INITIALLY DEFERRED);
				INSERT INTO `+e.table+`_uniq VALUES (1)`); err != nil {
				t.Fatal(err)
			}
			res := e.mustPost("k")
			wantProblem(t, res, http.StatusServiceUnavailable, idemhttp.ProblemStore)
			if res.header.Get("Retry-After") == "" || res.header.Get("Location") != "" {
				t.Fatalf("503 headers %v; want Retry-After and none of the handler's", res.header)
			}
			e.want("k", 0, none, 1)
			if _, err := e.pool.Exec(ctx, `DELETE FROM `+e.table+`_uniq`); err != nil {
				t.Fatal(err)
			}
			wantStatus(t, e.mustPost("k"), http.StatusCreated, "booked in run 2")
			e.want("k", 1, completed, 2)
		},
	}, {
		name: "failed record write rolls back",
		h:    created,
		check: func(t *testing.T, e *joinEnv) {
			// The record is written before the commit, in the
			// transaction: when writing it fails, nothing commits.
			ctx := testCtx(t)
			records := e.store.(interface{ Table() string }).Table()
			fn := strings.Trim(records, `"`) + "_refuse"
			if _, err := e.pool.Exec(ctx, `CREATE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$
					BEGIN IF NEW.status = 2 THEN RAISE EXCEPTION 'completion refused'; END IF; RETURN NEW; END $$;
				CREATE TRIGGER refuse BEFORE UPDATE ON `+records+` FOR EACH ROW EXECUTE FUNCTION `+fn+`()`); err != nil {
				t.Fatal(err)
			}
			wantProblem(t, e.mustPost("k"), http.StatusServiceUnavailable, idemhttp.ProblemStore)
			e.want("k", 0, none, 1)
			if _, err := e.pool.Exec(ctx, `DROP TRIGGER refuse ON `+records); err != nil {
				t.Fatal(err)
			}
			wantStatus(t, e.mustPost("k"), http.StatusCreated, "booked in run 2")
			e.want("k", 1, completed, 2)
		},
	}, {
		name: "nested claim of the key",
		h: func(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64) {
			// The request's own key, with its context: it must neither
			// wait for nor end the transaction that holds it.
			_, err := idempotency.Do(r.Context(), e.g, idemhttp.RecordKey("", joinScope, "k"), func(context.Context) (int, error) {
				return 0, nil
			})
			if !errors.Is(err, pgstore.ErrNested) {
				http.Error(w, fmt.Sprint("nested Do: ", err), http.StatusInternalServerError)
				return
			}
			created(e, w, r, n)
		},
		check: func(t *testing.T, e *joinEnv) {
			wantStatus(t, e.mustPost("k"), http.StatusCreated, "booked in run 1")
			e.want("k", 1, completed, 1)
		},
	}}
	for _, b := range joinBackends {
		for _, c := range cases {
			t.Run(b.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				c.check(t, newJoinEnv(t, b, c.mw, c.h))
			})
		}
	}
}

// TestJoinTxHandlerCommit: a handler cannot commit its request's
// transaction. pgx's refuses with ErrTxOwned and stays usable; a *sql.Tx
// commits, which JoinTx notices: the call is recorded, so the handler
// does not run again, and the client gets 503 for a response whose
// effects committed outside the record.
func TestJoinTxHandlerCommit(t *testing.T) {
	t.Parallel()
	for _, b := range joinBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			var commitErr error
			e := newJoinEnv(t, b, nil, func(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64) {
				if err := e.book(r, "k"); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				commitErr = e.b.commit(r)
				w.WriteHeader(http.StatusCreated)
			})
			res := e.mustPost("k")
			if b.name == "pgx" {
				if !errors.Is(commitErr, pgstore.ErrTxOwned) {
					t.Fatalf("tx.Commit in the handler: %v; want ErrTxOwned", commitErr)
				}
				wantStatus(t, res, http.StatusCreated, "")
			} else {
				if commitErr != nil {
					t.Fatalf("sql tx.Commit in the handler: %v", commitErr)
				}
				wantProblem(t, res, http.StatusServiceUnavailable, idemhttp.ProblemStore)
			}
			e.want("k", 1, idemtype.StatusCompleted, 1)
			if res := e.mustPost("k"); res.status != http.StatusCreated || res.header.Get(idemhttp.HeaderReplayed) != "true" {
				t.Fatalf("retry: %d %v; want the recorded 201 replayed", res.status, res.header)
			}
			e.want("k", 1, idemtype.StatusCompleted, 1)
		})
	}
}

// TestJoinTxConcurrentDuplicate: a duplicate of a request whose
// transaction runs finds the row locked and gets 409 with Retry-After at
// once, or, with Config.Wait, blocks until the commit and replays it. The
// handler runs once.
func TestJoinTxConcurrentDuplicate(t *testing.T) {
	t.Parallel()
	for _, b := range joinBackends {
		for _, wait := range []bool{false, true} {
			t.Run(fmt.Sprint(b.name, "/wait=", wait), func(t *testing.T) {
				t.Parallel()
				inside, release := make(chan struct{}), make(chan struct{})
				mw := &idemhttp.Config{}
				if wait {
					mw.Wait = time.Minute
				}
				e := newJoinEnv(t, b, mw, func(e *joinEnv, w http.ResponseWriter, r *http.Request, n int64) {
					close(inside) // the claim holds the record's row locked

					<-release
					created(e, w, r, n)
				})
				ctx := testCtx(t)
				first := make(chan joinResp, 1)
				go func() {
					res, err := e.post(ctx, "k")
					if err != nil {
						t.Errorf("first POST: %v", err)
					}
					first <- res
				}()
				select {
				case <-inside:
				case <-time.After(20 * time.Second):
					t.Fatal("the first request did not reach the handler within 20 s")
				}
				if !wait {
					res := e.mustPost("k")
					wantProblem(t, res, http.StatusConflict, idemhttp.ProblemInProgress)
					if res.header.Get("Retry-After") == "" {
						t.Fatalf("409 without Retry-After: %v", res.header)
					}
					close(release)
					wantStatus(t, <-first, http.StatusCreated, "booked in run 1")
					e.want("k", 1, idemtype.StatusCompleted, 1)
					return
				}
				dup := make(chan joinResp, 1)
				go func() {
					res, err := e.post(ctx, "k")
					if err != nil {
						t.Errorf("duplicate POST: %v", err)
					}
					dup <- res
				}()
				e.waitBlocked(ctx)
				close(release)
				orig := recv(t, "first", first)
				wantStatus(t, orig, http.StatusCreated, "booked in run 1")
				res := recv(t, "dup", dup)
				if res.status != orig.status || res.body != orig.body || res.header.Get(idemhttp.HeaderReplayed) != "true" {
					t.Fatalf("waiting duplicate got %d %v %q; want the first response replayed", res.status, res.header, res.body)
				}
				e.want("k", 1, idemtype.StatusCompleted, 1)
			})
		}
	}
}

// waitBlocked waits, up to 20 s, until a session blocks on a lock of the
// env's record table: the waiting duplicate.
func (e *joinEnv) waitBlocked(ctx context.Context) {
	e.t.Helper()
	table := strings.Trim(e.store.(interface{ Table() string }).Table(), `"`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'`, table).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	e.t.Fatal("no duplicate blocked on the record's row within 20 s")
}
