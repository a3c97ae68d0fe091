package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testchild"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
)

// stallLease is the lease of TestExecutorStalled's executor.
const stallLease = 3 * time.Second

// TestExecutorStalled: an executor process is frozen (SIGSTOP) past its
// lease, another caller takes over and records its outcome, then the
// executor resumes (SIGCONT) and finishes. Its late outcome is refused by
// the store (fencing): the record keeps the takeover's result, and the
// stale executor learns that its outcome was not recorded.
func TestExecutorStalled(t *testing.T) {
	if os.Getenv(childEnv) == "stall" {
		runStalledChild(t)
		return
	}
	t.Parallel()
	srv := testserver.StartRedis(t)
	c, _ := client(t, srv.Addr())
	pfx := prefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	child := testchild.Start(t, testchild.Command("^TestExecutorStalled$", childEnv+"=stall", childAddrEnv+"="+srv.Addr(), childPrefixEnv+"="+pfx))
	child.WaitLine(t, "effect", time.Minute)
	child.Signal(t, syscall.SIGSTOP)

	store := newStore(t, c, &redisstore.Options{Prefix: pfx})
	g := idempotency.New(store, &idempotency.Config{Lease: stallLease, OnDuplicate: idempotency.Wait})
	v, err := idempotency.Do(ctx, g, "job", func(ctx context.Context) (string, error) {
		return "fresh", c.Incr(ctx, pfx+"effects").Err()
	})
	if err != nil || v != "fresh" {
		t.Fatalf("takeover call = %q, %v", v, err)
	}

	child.Signal(t, syscall.SIGCONT)
	if err := c.Set(ctx, pfx+"go", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	child.Wait(t, time.Minute)
	var report string
	for _, line := range strings.Split(string(child.Stdout()), "\n") {
		if strings.HasPrefix(line, "result ") {
			report = line
		}
	}
	if report != "result stale notrecorded=true" {
		t.Fatalf("stalled executor reported %q, want its outcome refused with ErrNotRecorded", report)
	}
	if v, err := idempotency.Do(ctx, g, "job", func(context.Context) (string, error) { return "third", nil }); err != nil || v != "fresh" {
		t.Fatalf("after the stale executor finished: %q, %v; want the takeover's %q", v, err, "fresh")
	}
	if n, _ := c.Get(ctx, pfx+"effects").Int(); n != 2 {
		t.Fatalf("effects: %d, want 2 (the stalled execution and the takeover)", n)
	}
}

// runStalledChild claims "job", performs the effect, says so, and returns
// "stale" once the parent sets the go key; it prints what Do returned.
func runStalledChild(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: os.Getenv(childAddrEnv)})
	defer c.Close()
	pfx := os.Getenv(childPrefixEnv)
	g := idempotency.New(redisstore.New(c, &redisstore.Options{Prefix: pfx}), &idempotency.Config{Lease: stallLease})
	v, err := idempotency.Do(context.Background(), g, "job", func(ctx context.Context) (string, error) {
		if err := c.Incr(ctx, pfx+"effects").Err(); err != nil {
			return "", err
		}
		fmt.Println("effect")
		// Ignore ctx (cancelled once the renewal finds the claim lost),
		// like an executor that cannot stop mid-effect.
		for c.Exists(context.Background(), pfx+"go").Val() == 0 {
			time.Sleep(20 * time.Millisecond)
		}
		return "stale", nil
	})
	fmt.Printf("result %s notrecorded=%t\n", v, errors.Is(err, idempotency.ErrNotRecorded))
	if err != nil && !errors.Is(err, idempotency.ErrNotRecorded) {
		t.Fatal(err)
	}
}
