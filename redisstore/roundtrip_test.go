package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// TestStoreRoundTrips counts the client's round trips of every store
// operation: one each, plus one EVAL the first time a server sees a script.
func TestStoreRoundTrips(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	c, n := client(t, srv.Addr())
	s := newStore(t, c, nil)
	ctx := context.Background()
	req := idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour, Takeover: true}
	// Open the connection first: its handshake (HELLO, CLIENT SETINFO)
	// passes through the hook too, once per connection.
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	n.count()

	// A fresh server has no scripts cached: EVALSHA fails with NOSCRIPT
	// and go-redis falls back to EVAL, once.
	if _, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "warm", Lease: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if got := n.count(); got != 2 {
		t.Fatalf("first Claim on a fresh server: %d round trips, want 2 (EVALSHA, EVAL)", got)
	}
	if _, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "warm2", Lease: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if got := n.count(); got != 1 {
		t.Fatalf("second Claim: %d round trips, want 1 (the EVAL fallback is paid once)", got)
	}
	// LoadScripts puts the other scripts in the cache up front.
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	n.count()

	var tok idemtype.Token
	steps := []struct {
		name string
		op   func() error
		want int64
	}{
		{"Claim", func() error {
			cl, err := s.Claim(ctx, req)
			tok = cl.Record.Token
			return err
		}, 1},
		{"duplicate Claim", func() error { _, err := s.Claim(ctx, req); return err }, 1},
		{"Extend", func() error { return s.Extend(ctx, "k", tok, time.Minute) }, 1},
		{"Release", func() error { return s.Release(ctx, "k", tok) }, 1},
		{"Claim after Release", func() error {
			cl, err := s.Claim(ctx, req)
			tok = cl.Record.Token
			return err
		}, 1},
		{"Complete", func() error {
			return s.Complete(ctx, "k", tok, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour})
		}, 1},
		{"duplicate Claim of a completed key", func() error { _, err := s.Claim(ctx, req); return err }, 1},
		{"Get", func() error { _, err := s.Get(ctx, "k"); return err }, 1},
		{"stale Complete", func() error {
			err := s.Complete(ctx, "k", tok, idemtype.Outcome{Status: idemtype.StatusCompleted})
			if !errors.Is(err, idemtype.ErrLeaseLost) {
				return err
			}
			return nil
		}, 1},
		{"Delete", func() error { return s.Delete(ctx, "k") }, 1},
	}
	for _, st := range steps {
		if err := st.op(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := n.count(); got != st.want {
			t.Errorf("%s: %d round trips, want %d", st.name, got, st.want)
		}
	}
}

// TestGuardRoundTrips counts round trips of calls through the guard: a
// first call costs 2 (claim, complete), a duplicate 1, on a single node and
// on a Cluster.
func TestGuardRoundTrips(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		client func(t *testing.T) (redis.UniversalClient, *counter)
	}{
		{"single", func(t *testing.T) (redis.UniversalClient, *counter) {
			return client(t, testserver.StartRedis(t).Addr())
		}},
		{"cluster", func(t *testing.T) (redis.UniversalClient, *counter) {
			return clusterClient(t, testserver.StartRedisCluster(t, 3))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, n := tc.client(t)
			g := idempotency.New(newStore(t, c, nil), &idempotency.Config{Lease: time.Minute})
			ctx := context.Background()
			ran := 0
			fn := func(context.Context) (int, error) { ran++; return 42, nil }
			// Load the scripts (EVAL fallback) on every node.
			for i := range 20 {
				if _, err := idempotency.Do(ctx, g, "warm"+strconv.Itoa(i), fn); err != nil {
					t.Fatal(err)
				}
			}
			ran = 0
			for i := range 50 {
				key := "call" + strconv.Itoa(i)
				n.count()
				if v, err := idempotency.Do(ctx, g, key, fn); err != nil || v != 42 {
					t.Fatalf("first call: %v, %v", v, err)
				}
				if got := n.count(); got != 2 {
					t.Fatalf("first call %s: %d round trips, want 2", key, got)
				}
				if v, err := idempotency.Do(ctx, g, key, fn); err != nil || v != 42 {
					t.Fatalf("duplicate: %v, %v", v, err)
				}
				if got := n.count(); got != 1 {
					t.Fatalf("duplicate call %s: %d round trips, want 1", key, got)
				}
			}
			if ran != 50 {
				t.Fatalf("fn ran %d times for 50 keys called twice each", ran)
			}
		})
	}
}

// TestCommandStats checks the server side: INFO commandstats counts
// commands as Redis executed them, including those a script runs. A first
// call must reach the server as 2 scripts, a duplicate as 1, and the
// scripts must stay within their budget of inner commands.
func TestCommandStats(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	c, _ := client(t, srv.Addr())
	admin, _ := client(t, srv.Addr())
	g := idempotency.New(newStore(t, c, nil), &idempotency.Config{Lease: time.Minute})
	ctx := context.Background()
	fn := func(context.Context) (string, error) { return "ok", nil }
	if _, err := idempotency.Do(ctx, g, "warm", fn); err != nil { // load scripts
		t.Fatal(err)
	}

	const calls = 10
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range calls {
		if _, err := idempotency.Do(ctx, g, "k"+strconv.Itoa(i), fn); err != nil {
			t.Fatal(err)
		}
	}
	first := commandStats(t, admin)
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range calls {
		if _, err := idempotency.Do(ctx, g, "k"+strconv.Itoa(i), fn); err != nil {
			t.Fatal(err)
		}
	}
	dup := commandStats(t, admin)

	cases := []struct {
		name  string
		stats map[string]int
		// scripts is how many scripts per call; inner the most commands
		// the scripts of one call may run.
		scripts, inner int
	}{
		// claim: TIME HMGET HSET PEXPIREAT; complete: TIME HMGET HSET
		// PEXPIREAT PUBLISH.
		{"first call", first, 2, 9},
		// claim of a completed key: TIME HMGET.
		{"duplicate call", dup, 1, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.stats["evalsha"] + tc.stats["eval"]; got != tc.scripts*calls {
				t.Errorf("%d scripts for %d calls, want %d; stats %v", got, calls, tc.scripts*calls, tc.stats)
			}
			inner := 0
			for cmd, k := range tc.stats {
				switch cmd {
				case "evalsha", "eval":
				case "time", "hmget", "hset", "pexpireat", "persist", "publish", "spublish":
					inner += k
				default:
					t.Errorf("unexpected command %s (%d calls); stats %v", cmd, k, tc.stats)
				}
			}
			if inner > tc.inner*calls {
				t.Errorf("%d commands inside scripts for %d calls, want at most %d; stats %v", inner, calls, tc.inner*calls, tc.stats)
			}
		})
	}
}

// commandStats returns calls per command from INFO commandstats, leaving
// out the INFO and CONFIG commands of the test itself.
func commandStats(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	stats := make(map[string]int)
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_evalsha:calls=20,usec=...
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		if name == "info" || strings.HasPrefix(name, "config") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		k, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("commandstats line %q", line)
		}
		stats[name] = k
	}
	return stats
}
