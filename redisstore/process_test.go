package redisstore_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testchild"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
)

// Environment of the child process of TestExecutorKilled.
const (
	childEnv       = "REDISSTORE_TEST_CHILD"
	childAddrEnv   = "REDISSTORE_TEST_ADDR"
	childPrefixEnv = "REDISSTORE_TEST_PREFIX"
)

// killLease is the lease of TestExecutorKilled: long enough that the
// parent's call right after the kill surely comes before it lapses.
const killLease = 8 * time.Second

// TestExecutorKilled: a process claims a key, performs its effect (an INCR
// in Redis) and is SIGKILLed before recording the outcome. Until the lease
// lapses callers get ErrInProgress and nothing runs; afterwards one call
// takes over and runs fn once more, and later calls get its result.
func TestExecutorKilled(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		runChild(t)
		return
	}
	t.Parallel()
	srv := testserver.StartRedis(t)
	c, _ := client(t, srv.Addr())
	pfx := prefix(t)
	counter := pfx + "effects"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	child := testchild.Start(t, testchild.Command("^TestExecutorKilled$", childEnv+"=1", childAddrEnv+"="+srv.Addr(), childPrefixEnv+"="+pfx))
	// The child prints "effect" once its INCR is done.
	child.WaitLine(t, "effect", time.Minute)
	if n, err := c.Get(ctx, counter).Int(); err != nil || n != 1 {
		t.Fatalf("effects after the child ran: %d, %v; want 1", n, err)
	}
	child.Kill(t)

	fn := func(ctx context.Context) (int64, error) { return c.Incr(ctx, counter).Result() }
	store := newStore(t, c, &redisstore.Options{Prefix: pfx})
	rec, err := store.Get(ctx, "job")
	if err != nil || rec.Status != idempotency.StatusInProgress {
		t.Fatalf("record left by the killed child: %+v, %v", rec, err)
	}
	impatient := idempotency.New(store, &idempotency.Config{Lease: killLease, WaitTimeout: -1})
	if _, err := idempotency.Do(ctx, impatient, "job", fn); !errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("call before the lease lapsed = %v, want ErrInProgress", err)
	}
	if n, _ := c.Get(ctx, counter).Int(); n != 1 {
		t.Fatalf("effects before the lease lapsed: %d, want 1", n)
	}

	patient := idempotency.New(store, &idempotency.Config{Lease: killLease, OnDuplicate: idempotency.Wait})
	v, err := idempotency.Do(ctx, patient, "job", fn)
	if err != nil || v != 2 {
		t.Fatalf("call after the lease = %d, %v; want the takeover's result 2", v, err)
	}
	if v, err := idempotency.Do(ctx, patient, "job", fn); err != nil || v != 2 {
		t.Fatalf("duplicate after the takeover = %d, %v; want 2", v, err)
	}
	if n, _ := c.Get(ctx, counter).Int(); n != 2 {
		t.Fatalf("effects in all: %d, want 2 (the killed execution and the takeover)", n)
	}
	if rec, err := store.Get(ctx, "job"); err != nil || rec.Status != idempotency.StatusCompleted {
		t.Fatalf("record after the takeover: %+v, %v", rec, err)
	}
}

// runChild is the executor: it claims "job", performs the effect, says so
// and blocks until it is killed.
func runChild(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: os.Getenv(childAddrEnv)})
	pfx := os.Getenv(childPrefixEnv)
	g := idempotency.New(redisstore.New(c, &redisstore.Options{Prefix: pfx}), &idempotency.Config{Lease: killLease})
	_, err := idempotency.Do(context.Background(), g, "job", func(ctx context.Context) (int64, error) {
		if err := c.Incr(ctx, pfx+"effects").Err(); err != nil {
			return 0, err
		}
		os.Stdout.WriteString("effect\n")
		time.Sleep(time.Hour) // until SIGKILL
		return 0, nil
	})
	t.Fatalf("child: Do returned: %v", err)
}
