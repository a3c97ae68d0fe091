package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
)

// TestGuardRace: 64 goroutines call the same 200 keys, each through its
// own Store and client (as separate servers would); every key's effect, an
// INCR in Redis, happens once, and every caller gets that execution's
// result.
func TestGuardRace(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		client func(t *testing.T) func() redis.UniversalClient
	}{
		{"single", func(t *testing.T) func() redis.UniversalClient {
			addr := testserver.StartRedis(t).Addr()
			return func() redis.UniversalClient { c, _ := client(t, addr); return c }
		}},
		{"cluster", func(t *testing.T) func() redis.UniversalClient {
			cl := testserver.StartRedisCluster(t, 3)
			return func() redis.UniversalClient { c, _ := clusterClient(t, cl); return c }
		}},
		{"sentinel", func(t *testing.T) func() redis.UniversalClient {
			s := testserver.StartRedisSentinel(t, 1)
			return func() redis.UniversalClient { c, _ := sentinelClient(t, s); return c }
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const goroutines, keys = 64, 200
			newClient := tc.client(t)
			pfx := prefix(t)
			effects := newClient()
			ctx := context.Background()
			results := make([][]int64, goroutines)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for w := range goroutines {
				c := newClient()
				g := idempotency.New(newStore(t, c, &redisstore.Options{Prefix: pfx}),
					&idempotency.Config{Lease: time.Minute, WaitTimeout: time.Minute})
				results[w] = make([]int64, keys)
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for i := range keys {
						k := (i + w*7) % keys
						v, err := idempotency.Do(ctx, g, "key"+strconv.Itoa(k), func(ctx context.Context) (int64, error) {
							return effects.Incr(ctx, pfx+"effects:{"+strconv.Itoa(k)+"}").Result()
						})
						if err != nil {
							t.Errorf("goroutine %d key %d: %v", w, k, err)
							return
						}
						results[w][k] = v
					}
				}()
			}
			close(start)
			wg.Wait()
			if t.Failed() {
				return
			}
			total := 0
			for k := range keys {
				n, err := effects.Get(ctx, pfx+"effects:{"+strconv.Itoa(k)+"}").Int()
				if err != nil {
					t.Fatalf("effect counter of key %d: %v", k, err)
				}
				if n != 1 {
					t.Errorf("key %d: effect ran %d times", k, n)
				}
				total += n
				for w := range goroutines {
					if results[w][k] != 1 {
						t.Fatalf("goroutine %d key %d got result %d, want the single execution's 1", w, k, results[w][k])
					}
				}
			}
			if total != keys {
				t.Fatalf("%d effects for %d keys", total, keys)
			}
		})
	}
}

// TestGuardServerDown: with Redis gone, a call fails with ErrStore and fn
// does not run.
func TestGuardServerDown(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	c, _ := client(t, srv.Addr())
	g := idempotency.New(newStore(t, c, nil), &idempotency.Config{Lease: 10 * time.Second})
	srv.Kill()
	ran := false
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := idempotency.Do(ctx, g, "k", func(context.Context) (int, error) { ran = true; return 1, nil })
	if !errors.Is(err, idempotency.ErrStore) {
		t.Fatalf("Do with the server down = %v, want ErrStore", err)
	}
	if ran {
		t.Fatal("fn ran although the claim failed")
	}
}

// TestAOFRestart: with appendfsync always, completed records survive a
// SIGKILL of redis-server: after the restart every duplicate gets the
// stored result and nothing runs again.
func TestAOFRestart(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t, testserver.RedisAppendOnly())
	c, _ := client(t, srv.Addr())
	g := idempotency.New(newStore(t, c, nil), &idempotency.Config{Lease: 10 * time.Second, TTL: time.Hour})
	ctx := context.Background()
	const keys = 300
	var runs atomic.Int64
	do := func(i int) (string, error) {
		return idempotency.Do(ctx, g, "k"+strconv.Itoa(i), func(context.Context) (string, error) {
			runs.Add(1)
			return fmt.Sprint("result ", i), nil
		})
	}
	for i := range keys {
		if _, err := do(i); err != nil {
			t.Fatal(err)
		}
	}
	srv.Kill()
	srv.Restart()
	for i := range keys {
		v, err := do(i)
		if err != nil || v != fmt.Sprint("result ", i) {
			t.Fatalf("key %d after restart: %q, %v", i, v, err)
		}
	}
	if n := runs.Load(); n != keys {
		t.Fatalf("fn ran %d times for %d keys across a crash, want %d", n, keys, keys)
	}
}

// TestWaiterNotified: a duplicate waiting for a running first call is woken
// by the completion's message (sharded on a Cluster), not by polling: it
// makes a handful of round trips while the first call runs for a second.
// The servers' command counts show which publish command carried it.
func TestWaiterNotified(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		clients func(t *testing.T) (executor, waiter redis.UniversalClient, n *counter, nodes []string)
		publish string // the command that must carry completions; the other must not appear
	}{
		{"single", func(t *testing.T) (redis.UniversalClient, redis.UniversalClient, *counter, []string) {
			addr := testserver.StartRedis(t).Addr()
			e, _ := client(t, addr)
			w, n := client(t, addr)
			return e, w, n, []string{addr}
		}, "publish"},
		{"cluster", func(t *testing.T) (redis.UniversalClient, redis.UniversalClient, *counter, []string) {
			cl := testserver.StartRedisCluster(t, 3)
			e, _ := clusterClient(t, cl)
			w, n := clusterClient(t, cl)
			return e, w, n, cl.Addrs()
		}, "spublish"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ec, wc, wn, nodes := tc.clients(t)
			pfx := prefix(t)
			cfg := &idempotency.Config{Lease: time.Minute, WaitTimeout: time.Minute}
			executor := idempotency.New(newStore(t, ec, &redisstore.Options{Prefix: pfx}), cfg)
			waiter := idempotency.New(newStore(t, wc, &redisstore.Options{Prefix: pfx}), cfg)
			ctx := context.Background()

			started, finish := make(chan struct{}), make(chan struct{})
			done := make(chan error, 1)
			go func() {
				_, err := idempotency.Do(ctx, executor, "k", func(context.Context) (string, error) {
					close(started)
					<-finish
					return "first", nil
				})
				done <- err
			}()
			<-started
			// Open the connection (and on a Cluster learn the slots) first.
			if _, err := waiter.Lookup(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			wn.count()
			got := make(chan string, 1)
			go func() {
				v, err := idempotency.Do(ctx, waiter, "k", func(context.Context) (string, error) { return "second", nil })
				if err != nil {
					t.Error(err)
				}
				got <- v
			}()
			time.Sleep(time.Second) // a polling waiter would make ~10 round trips by now
			close(finish)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if v := <-got; v != "first" {
				t.Fatalf("waiter got %q, want the first call's result", v)
			}
			// Claim, Get after subscribing, Claim after the wake; a new
			// pool connection's handshake may add up to three.
			if n := wn.count(); n > 6 {
				t.Fatalf("waiter made %d round trips while waiting; it polls", n)
			}
			calls := map[string]int{}
			for _, addr := range nodes {
				admin, _ := client(t, addr)
				for name, n := range commandStats(t, admin) {
					calls[name] += n
				}
			}
			other := map[string]string{"publish": "spublish", "spublish": "publish"}[tc.publish]
			if calls[tc.publish] == 0 || calls[other] != 0 {
				t.Fatalf("completions published with %s %d times and %s %d times; want %s only",
					tc.publish, calls[tc.publish], other, calls[other], tc.publish)
			}
		})
	}
}

// TestLostNotification: when the completion publishes nothing (the
// executor's store has notifications off), waiters still finish: they look
// again when the lease is due, so no lost message holds them past it.
func TestLostNotification(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	ec, _ := client(t, srv.Addr())
	wc, _ := client(t, srv.Addr())
	pfx := prefix(t)
	const lease = 1500 * time.Millisecond
	executor := idempotency.New(newStore(t, ec, &redisstore.Options{Prefix: pfx, PubSub: redisstore.PubSubOff}),
		&idempotency.Config{Lease: lease})
	waiter := idempotency.New(newStore(t, wc, &redisstore.Options{Prefix: pfx}),
		&idempotency.Config{Lease: lease, OnDuplicate: idempotency.Wait})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	started, finish := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := idempotency.Do(ctx, executor, "k", func(context.Context) (string, error) {
			close(started)
			<-finish
			return "first", nil
		})
		done <- err
	}()
	<-started
	got := make(chan string, 1)
	go func() {
		v, err := idempotency.Do(ctx, waiter, "k", func(context.Context) (string, error) { return "second", nil })
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	time.Sleep(lease) // the executor renews meanwhile; the waiter re-checks
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != "first" {
		t.Fatalf("waiter got %q, want the first call's result", v)
	}
}
