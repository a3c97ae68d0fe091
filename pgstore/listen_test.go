package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/pgstore"
)

// TestWaiterNotifiedAcrossSpellings: a duplicate waiting through a Store
// that names the table another way (with or without its schema) than the
// Store of the running call is woken by that call's completion, as
// through the same name, and gets its result; it does not wait until its
// context ends.
func TestWaiterNotifiedAcrossSpellings(t *testing.T) {
	t.Parallel()
	for _, qualifiedFirst := range []bool{false, true} {
		name := "BareRuns"
		if qualifiedFirst {
			name = "QualifiedRuns"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testWaiterAcrossSpellings(t, qualifiedFirst)
		})
	}
}

func testWaiterAcrossSpellings(t *testing.T, qualifiedFirst bool) {
	ctx := testCtx(t)
	pool := newPool(t, dsn)
	bareStore := newStore(t, pool, nil)
	bare := strings.Trim(bareStore.Table(), `"`)
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	// Notifications only: a poll must not hide a lost one.
	slow := time.Hour
	first := newStore(t, pool, &pgstore.Options{Table: bare, PollInterval: slow})
	second := newStore(t, newPool(t, dsn), &pgstore.Options{Table: schema + "." + bare, PollInterval: slow})
	if qualifiedFirst {
		first, second = second, first
	}
	cfg := idempotency.Config{OnDuplicate: idempotency.Wait}
	g1, g2 := idempotency.New(first, &cfg), idempotency.New(second, &cfg)
	release := make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		_, err := idempotency.Do(ctx, g1, "k", func(context.Context) (int, error) { <-release; return 7, nil })
		firstDone <- err
	}()
	// The first call holds the key: the duplicate waits.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if r, err := first.Get(ctx, "k"); err == nil && r.Status == idempotency.StatusInProgress {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first call never claimed the key")
		}
		time.Sleep(5 * time.Millisecond)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	got := make(chan error, 1)
	var v int
	go func() {
		var err error
		v, err = idempotency.Do(wctx, g2, "k", func(context.Context) (int, error) { return 0, nil })
		got <- err
	}()
	// Release the first once the duplicate marked the record watched.
	for {
		var waiters bool
		if err := pool.QueryRow(ctx, `SELECT waiters FROM `+first.Table()+` WHERE key = $1`, []byte("k")).Scan(&waiters); err != nil {
			t.Fatal(err)
		}
		if waiters {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the duplicate never waited")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if err := recv(t, "firstDone", firstDone); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, "got", got); err != nil || v != 7 {
		t.Fatalf("waiting duplicate = %d, %v; want the first call's 7", v, err)
	}
}
