package pgstore_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testchild"
	"github.com/idempotency-go/idempotency/pgstore"
)

// runJoinChild is the child of TestJoinTxKilledMidTransaction: it serves
// joined requests through the backend named, on the records table
// PGSTORE_TEST_TABLE, says where, and, inside the handler, books its row
// in the ledger PGSTORE_TEST_LEDGER, says so, and stays there until
// killed.
func runJoinChild(backend string) int {
	ctx := context.Background()
	var b joinBackend
	for _, jb := range joinBackends {
		if jb.name == backend {
			b = jb
		}
	}
	if b.open == nil {
		fmt.Fprintln(os.Stderr, "unknown backend", backend)
		return 2
	}
	s, closeStore, err := b.open(ctx, os.Getenv("PGSTORE_TEST_DSN"), os.Getenv("PGSTORE_TEST_TABLE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer closeStore()
	table := os.Getenv("PGSTORE_TEST_LEDGER")
	mw := idemhttp.New(idempotency.New(s, nil), &idemhttp.Config{
		Join: pgstore.JoinTx, Scope: func(*http.Request) string { return joinScope },
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("listening", ln.Addr())
	err = http.Serve(ln, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := b.exec(r, `INSERT INTO `+table+` (key, cents) VALUES ('k', 1)`); err != nil {
			fmt.Fprintln(os.Stderr, "book:", err)
			os.Exit(2)
		}
		fmt.Println("inside")
		select {}
	})))
	fmt.Fprintln(os.Stderr, "serve returned:", err)
	return 2
}

// TestJoinTxKilledMidTransaction: a server process SIGKILLed while its
// handler's transaction is open leaves neither the handler's writes nor a
// record, and the client's retry runs the handler once.
func TestJoinTxKilledMidTransaction(t *testing.T) {
	t.Parallel()
	for _, b := range joinBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e := newJoinEnv(t, b, nil, created)
			records := strings.Trim(e.store.(interface{ Table() string }).Table(), `"`)
			p := child(t, "joinhold-"+b.name, childEnvFor(dsn, records, e.table)...)
			addr := listening(t, p)
			ctx := testCtx(t)
			sent := make(chan error, 1)
			go func() {
				res, err := postKey(ctx, "http://"+addr, "k")
				if err == nil {
					err = fmt.Errorf("the killed server answered %d %q", res.status, res.body)
				}
				sent <- err
			}()
			p.WaitLine(t, "inside", 20*time.Second)
			// The handler's booking is written, uncommitted, and the
			// record's row locked.
			p.Kill(t)
			if err := recv(t, "sent", sent); err == nil {
				t.Fatal("the client got no error from the killed server")
			}
			e.want("k", 0, 0, 0)
			// The server aborts the dead client's transaction as it
			// notices the closed socket; until then a retry gets 409.
			var res joinResp
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if res = e.mustPost("k"); res.status != http.StatusConflict || time.Now().After(deadline) {
					break
				}
			}
			wantStatus(t, res, http.StatusCreated, "booked in run 1")
			e.want("k", 1, idemtype.StatusCompleted, 1)
			if again := e.mustPost("k"); again.body != res.body || again.header.Get(idemhttp.HeaderReplayed) != "true" {
				t.Fatalf("retry after the commit: %d %v %q; want the replay", again.status, again.header, again.body)
			}
			e.want("k", 1, idemtype.StatusCompleted, 1)
		})
	}
}

// listening returns the address the child p serves on, from its first
// line of output, waiting at most 20s.
func listening(t *testing.T, p *testchild.Proc) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		line, _, complete := strings.Cut(string(p.Stdout()), "\n")
		if addr, ok := strings.CutPrefix(line, "listening "); ok && complete {
			return addr
		}
		select {
		case <-p.Done():
			t.Fatalf("child exited before it listened: %v", p.Err())
		case <-deadline:
			t.Fatalf("child did not listen within 20s; it said %q", p.Stdout())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
