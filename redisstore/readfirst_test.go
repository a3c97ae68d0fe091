package redisstore_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/idempotency-go/idempotency/storetest"
	"github.com/redis/go-redis/v9"
)

// TestConformanceReadFirst: the conformance suite with every claim reading
// first, on one node and on a Cluster.
func TestConformanceReadFirst(t *testing.T) {
	t.Parallel()
	opts := &redisstore.Options{ReadFirst: idemtype.ReadFirstAlways}
	t.Run("node", func(t *testing.T) {
		t.Parallel()
		c, _ := client(t, testserver.StartRedis(t).Addr())
		storetest.Run(t, func(t *testing.T) idemtype.Store { return newStore(t, c, opts) })
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		c, _ := clusterClient(t, testserver.StartRedisCluster(t, 3))
		storetest.Run(t, func(t *testing.T) idemtype.Store { return newStore(t, c, opts) })
	})
}

// commands is a go-redis hook recording the name of every command sent,
// a script by "evalsha".
type commands struct {
	mu    sync.Mutex
	names []string
}

func (c *commands) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd)
		return next(ctx, cmd)
	}
}

func (c *commands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.add(cmds...)
		return next(ctx, cmds)
	}
}

func (c *commands) add(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range cmds {
		c.names = append(c.names, cmd.Name())
	}
}

// take returns the commands sent since the last call, joined by spaces.
func (c *commands) take() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.Join(c.names, " ")
	c.names = nil
	return s
}

func recordedClient(t *testing.T) (*redis.Client, *commands) {
	t.Helper()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	rec := &commands{}
	c.AddHook(rec)
	return c, rec
}

// TestReadFirst: with ReadFirstAlways, a duplicate of a finished call is
// answered by HMGET and PEXPIRETIME alone, with the record the claim
// script gives; every other state of the key goes on to the script, whose
// answer stands.
func TestReadFirst(t *testing.T) {
	t.Parallel()
	c, sent := recordedClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const (
		read   = "hmget pexpiretime"
		script = "evalsha"
	)
	finish := func(t *testing.T, s *redisstore.Store, key string, st idemtype.Status, ttl time.Duration) {
		t.Helper()
		cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour})
		if err != nil || !cl.Acquired {
			t.Fatalf("Claim = %+v, %v", cl, err)
		}
		if err := s.Complete(ctx, key, cl.Record.Token, idemtype.Outcome{Status: st, Value: []byte("v"), TTL: ttl}); err != nil {
			t.Fatal(err)
		}
	}
	req := func(key string) idemtype.ClaimRequest {
		return idemtype.ClaimRequest{Key: key, Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour, Takeover: true}
	}
	// hand writes a record of key by hand: status st, expiring at e (ms,
	// 0 never), its lease long lapsed; the key expiring at keyExp (ms, 0
	// never).
	hand := func(t *testing.T, name, key, st string, e, keyExp int64) {
		t.Helper()
		if err := c.HSet(ctx, name, "k", key, "f", "fp", "s", st, "t", "7", "v", "x", "l", "1", "e", strconv.FormatInt(e, 10),
			"c", "1", "u", "1").Err(); err != nil {
			t.Fatal(err)
		}
		if keyExp > 0 {
			if err := c.PExpireAt(ctx, name, time.UnixMilli(keyExp)).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, s *redisstore.Store, key string)
		sent     string // commands of the read-first claim
		acquired bool
		corrupt  bool
	}{
		{"completed", func(t *testing.T, s *redisstore.Store, k string) {
			finish(t, s, k, idemtype.StatusCompleted, time.Hour)
		}, read, false, false},
		{"failed", func(t *testing.T, s *redisstore.Store, k string) { finish(t, s, k, idemtype.StatusFailed, time.Hour) }, read, false, false},
		{"completed, never expires", func(t *testing.T, s *redisstore.Store, k string) { finish(t, s, k, idemtype.StatusCompleted, 0) }, read, false, false},
		{"absent", func(*testing.T, *redisstore.Store, string) {}, read + " " + script, true, false},
		{"in progress", func(t *testing.T, s *redisstore.Store, k string) {
			if _, err := s.Claim(ctx, req(k)); err != nil {
				t.Fatal(err)
			}
		}, read + " " + script, false, false},
		{"released: a tombstone", func(t *testing.T, s *redisstore.Store, k string) {
			cl, err := s.Claim(ctx, req(k))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Release(ctx, k, cl.Record.Token); err != nil {
				t.Fatal(err)
			}
		}, read + " " + script, true, false},
		{"completed, key expiry removed", func(t *testing.T, s *redisstore.Store, k string) {
			finish(t, s, k, idemtype.StatusCompleted, time.Hour)
			if err := c.Persist(ctx, s.RedisKey(k)).Err(); err != nil {
				t.Fatal(err)
			}
		}, read + " " + script, false, false},
		{"deleted: a tombstone", func(t *testing.T, s *redisstore.Store, k string) {
			finish(t, s, k, idemtype.StatusCompleted, time.Hour)
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}, read + " " + script, true, false},
		{"in progress, lease lapsed: taken over", func(t *testing.T, s *redisstore.Store, k string) {
			hand(t, s.RedisKey(k), k, "1", 0, 0)
		}, read + " " + script, true, false},
		{"completed, expired, written without a key expiry", func(t *testing.T, s *redisstore.Store, k string) {
			hand(t, s.RedisKey(k), k, "2", time.Now().Add(-time.Hour).UnixMilli(), 0)
		}, read + " " + script, true, false},
		{"completed, key expiring at expires_at itself", func(t *testing.T, s *redisstore.Store, k string) {
			// As expire leaves a record of a one-millisecond TTL.
			e := time.Now().Add(time.Hour).UnixMilli()
			hand(t, s.RedisKey(k), k, "2", e, e)
		}, read + " " + script, false, false},
		{"completed, key expiring after expires_at", func(t *testing.T, s *redisstore.Store, k string) {
			e := time.Now().Add(time.Hour).UnixMilli()
			hand(t, s.RedisKey(k), k, "2", e, e+1)
		}, read + " " + script, false, false},
		{"corrupt", func(t *testing.T, s *redisstore.Store, k string) {
			if err := c.HSet(ctx, s.RedisKey(k), "k", k, "s", "2", "t", "x").Err(); err != nil {
				t.Fatal(err)
			}
		}, read + " " + script, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: sent records the client's every command.
			first := newStore(t, c, &redisstore.Options{ReadFirst: idemtype.ReadFirstAlways})
			never := newStore(t, c, &redisstore.Options{Prefix: prefixOf(first), ReadFirst: idemtype.ReadFirstNever})
			tc.setup(t, first, "k")
			want, wantErr := never.Claim(ctx, req("k"))
			if tc.acquired {
				// The script's own claim took the key: answer the
				// read-first claim on a copy of the setup instead.
				tc.setup(t, first, "k2")
			}
			key := map[bool]string{false: "k", true: "k2"}[tc.acquired]
			sent.take()
			got, err := first.Claim(ctx, req(key))
			if s := sent.take(); s != tc.sent {
				t.Errorf("commands = %q; want %q", s, tc.sent)
			}
			if tc.corrupt {
				if !errors.Is(err, idemtype.ErrCorrupt) || !errors.Is(wantErr, idemtype.ErrCorrupt) {
					t.Fatalf("Claim = %v (script alone: %v); want ErrCorrupt from both", err, wantErr)
				}
				return
			}
			if err != nil || wantErr != nil {
				t.Fatalf("Claim = %v (script alone: %v)", err, wantErr)
			}
			if got.Acquired != tc.acquired {
				t.Fatalf("Claim = %+v; want acquired %v", got, tc.acquired)
			}
			if !tc.acquired && !sameRecord(got.Record, want.Record) {
				t.Errorf("read first = %+v\nscript     = %+v", got.Record, want.Record)
			}
		})
	}
}

func prefixOf(s *redisstore.Store) string {
	name := s.RedisKey("")
	return name[:strings.LastIndexByte(name, '{')]
}

func sameRecord(a, b idemtype.Record) bool {
	return a.Key == b.Key && a.Fingerprint == b.Fingerprint && a.Status == b.Status && a.Token == b.Token &&
		slices.Equal(a.Value, b.Value) && a.LeaseUntil.Equal(b.LeaseUntil) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// TestReadFirstKeyExpiry: the scripts set a key to expire one millisecond
// before its record's expires_at, so that Redis removes it at expires_at;
// a TTL of one or two milliseconds keeps expires_at itself (the clock may
// reach expires_at - 1 before PEXPIREAT runs: TestExpireAtMillisecondBoundary),
// and such a record is not answered by the read. So does a write whose
// clock reached expires_at - 2 while it ran (TestExpireAfterSlowScript).
func TestReadFirstKeyExpiry(t *testing.T) {
	t.Parallel()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	s := newStore(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name     string
		claimTTL time.Duration
		outcome  time.Duration
		offsets  []int64 // key expiry minus the record's expires_at, ms
	}{
		{"in progress", time.Hour, -1, []int64{-1}},
		{"completed", time.Hour, time.Hour, []int64{-1}},
		{"completed, 2ms", time.Hour, 2 * time.Millisecond, []int64{0}},
	} {
		key := tc.name
		cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: tc.claimTTL})
		if err != nil {
			t.Fatal(err)
		}
		if tc.outcome >= 0 {
			if err := s.Complete(ctx, key, cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: tc.outcome}); err != nil {
				t.Fatal(err)
			}
		}
		// Both in one transaction: a short TTL may end between them.
		var e *redis.StringCmd
		var got *redis.DurationCmd
		if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			e = p.HGet(ctx, s.RedisKey(key), "e")
			got = p.PExpireTime(ctx, s.RedisKey(key))
			return nil
		}); err != nil {
			if tc.outcome < time.Hour && errors.Is(err, redis.Nil) {
				continue // expired already
			}
			t.Fatal(err)
		}
		exp, err := e.Int64()
		if err != nil {
			t.Fatal(err)
		}
		if off := got.Val().Milliseconds() - exp; !slices.Contains(tc.offsets, off) {
			t.Errorf("%s: PEXPIRETIME = expires_at %+d ms; want one of %v", tc.name, off, tc.offsets)
		}
	}
}

// TestReadFirstAuto: by default a Store reads first once most of its
// recent claims found a finished record, and stops once new keys come
// back.
func TestReadFirstAuto(t *testing.T) {
	t.Parallel()
	c, sent := recordedClient(t)
	s := newStore(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "dup", Lease: time.Minute, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "dup", cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	claim := func(key string) string {
		t.Helper()
		sent.take()
		if _, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		return sent.take()
	}
	var scripts int
	for range 40 {
		if claim("dup") == "evalsha" {
			scripts++
		}
	}
	// One new key before and 40 duplicates: the estimate passes 3/4 after
	// the 22nd duplicate (idemtype.DuplicateRate).
	if scripts != 22 {
		t.Errorf("duplicates answered by the script: %d of 40; want 22, then reads", scripts)
	}
	// Four new keys bring the estimate (0.92 after 40 duplicates) under
	// 3/4.
	for i := range 4 {
		if got, want := claim("new"+strconv.Itoa(i)), "hmget pexpiretime evalsha"; got != want {
			t.Errorf("new key %d: commands %q; want %q", i, got, want)
		}
	}
	if got := claim("new4"); got != "evalsha" {
		t.Errorf("after 4 new keys: commands %q; want the script alone", got)
	}
}

// TestReadFirstNotFromReplicas: a Store on a ClusterClient that reads from
// replicas never reads first, even when told to always: a replica may
// still hold a record the primary has deleted.
func TestReadFirstNotFromReplicas(t *testing.T) {
	t.Parallel()
	cl := testserver.StartRedisCluster(t, 3)
	for _, tc := range []struct {
		name string
		opts redis.ClusterOptions
		want string // commands of a duplicate's claim
	}{
		{"primaries", redis.ClusterOptions{}, "hmget pexpiretime"},
		{"ReadOnly", redis.ClusterOptions{ReadOnly: true}, "evalsha"},
		{"RouteByLatency", redis.ClusterOptions{RouteByLatency: true}, "evalsha"},
		{"RouteRandomly", redis.ClusterOptions{RouteRandomly: true}, "evalsha"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := tc.opts
			o.Addrs = cl.Addrs()
			c := redis.NewClusterClient(&o)
			t.Cleanup(func() { _ = c.Close() })
			sent := &commands{}
			s := newStore(t, c, &redisstore.Options{ReadFirst: idemtype.ReadFirstAlways})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req := idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour}
			first, err := s.Claim(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Complete(ctx, "k", first.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
			c.AddHook(sent)
			if dup, err := s.Claim(ctx, req); err != nil || dup.Acquired || dup.Record.Token != first.Record.Token {
				t.Fatalf("duplicate Claim = %+v, %v", dup, err)
			}
			if got := sent.take(); got != tc.want {
				t.Errorf("commands %q; want %q", got, tc.want)
			}
		})
	}
}

// TestReadFirstSlotMigration: a duplicate read first while its slot moves
// to another master (the key still on the source, then moved: ASK, then
// the slot handed over: MOVED) gets the record the claim gives; once
// deleted, the key is claimed anew, on its new master.
func TestReadFirstSlotMigration(t *testing.T) {
	t.Parallel()
	cl := testserver.StartRedisCluster(t, 3)
	c, _ := clusterClient(t, cl)
	s := newStore(t, c, &redisstore.Options{ReadFirst: idemtype.ReadFirstAlways})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour}
	first, err := s.Claim(ctx, req)
	if err != nil || !first.Acquired {
		t.Fatalf("Claim = %+v, %v", first, err)
	}
	if err := s.Complete(ctx, "k", first.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	want, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	name := s.RedisKey("k")
	slot, err := c.ClusterKeySlot(ctx, name).Result()
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		c  *redis.Client
		id string
	}
	var nodes []node
	var src, dst node
	for _, n := range cl.Nodes {
		nc := redis.NewClient(&redis.Options{Addr: n.Addr()})
		t.Cleanup(func() { _ = nc.Close() })
		id, err := nc.ClusterMyID(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, node{nc, id})
		if n, err := nc.Exists(ctx, name).Result(); err == nil && n == 1 {
			src = nodes[len(nodes)-1]
		} else if dst.c == nil {
			dst = nodes[len(nodes)-1]
		}
	}
	if src.c == nil || dst.c == nil {
		t.Fatal("no master holds the record")
	}
	setSlot := func(n node, args ...any) {
		t.Helper()
		if err := n.c.Do(ctx, append([]any{"cluster", "setslot", slot}, args...)...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	sent := &commands{}
	c.AddHook(sent)
	dup := func(stage string) {
		t.Helper()
		sent.take()
		got, err := s.Claim(ctx, req)
		if err != nil || got.Acquired || !sameRecord(got.Record, want) {
			t.Fatalf("%s: duplicate Claim = %+v, %v; want %+v", stage, got, err, want)
		}
		t.Logf("%s: %s", stage, sent.take())
	}
	dup("before")
	setSlot(dst, "importing", src.id)
	setSlot(src, "migrating", dst.id)
	dup("migrating, the key on the source")
	host, port, _ := strings.Cut(dst.c.Options().Addr, ":")
	if err := src.c.Migrate(ctx, host, port, name, 0, 5*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	// MIGRATE carries the key's expiry as a TTL: on the target it may
	// be later than expires_at - 1, and then the read leaves the record
	// to the script.
	var exp *redis.DurationCmd
	if _, err := dst.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "asking")
		exp = p.PExpireTime(ctx, name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("key expiry after MIGRATE: expires_at %+d ms", exp.Val().Milliseconds()-want.ExpiresAt.UnixMilli())
	// stat reads a counter of n's INFO section, such as
	// "cmdstat_asking:calls=".
	stat := func(n node, section, prefix string) int {
		t.Helper()
		info, err := n.c.Info(ctx, section).Result()
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(info, prefix)
		v, _ := strconv.Atoi(rest[:strings.IndexAny(rest+",\r", ",\r")])
		return v
	}
	before := stat(dst, "commandstats", "cmdstat_asking:calls=")
	dup("migrating, the key moved (ASK)")
	if stat(dst, "commandstats", "cmdstat_asking:calls=") == before {
		t.Fatal("the duplicate was not redirected by ASK: the test did not exercise it")
	}
	for _, n := range nodes {
		setSlot(n, "node", dst.id)
	}
	before = stat(src, "errorstats", "errorstat_MOVED:count=")
	dup("migrated (MOVED)")
	if stat(src, "errorstats", "errorstat_MOVED:count=") == before {
		t.Fatal("the duplicate was not redirected by MOVED: the test did not exercise it")
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n, err := src.c.Exists(ctx, name).Result(); err == nil && n != 0 {
		t.Fatal("the former master still holds the key")
	}
	again, err := s.Claim(ctx, req)
	if err != nil || !again.Acquired || again.Record.Token <= first.Record.Token {
		t.Fatalf("Claim after Delete = %+v, %v; want acquired with a larger token than %d", again, err, first.Record.Token)
	}
}

// TestReadFirstOddFields: a finished record with one field missing or
// spelled oddly (signs, spaces, decimals, exponents, hex, overflow) gets
// the same answer from a claim reading first as from the claim script
// alone: the same record, or ErrCorrupt from both.
func TestReadFirstOddFields(t *testing.T) {
	t.Parallel()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first := newStore(t, c, &redisstore.Options{ReadFirst: idemtype.ReadFirstAlways})
	never := newStore(t, c, &redisstore.Options{Prefix: prefixOf(first), ReadFirst: idemtype.ReadFirstNever})
	name := first.RedisKey("k")
	e := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	valid := map[string]string{"k": "k", "f": "fp", "s": "2", "t": "5", "v": "v", "l": "1", "e": e, "c": "1", "u": "1"}
	odd := []string{"", "1", "3", "abc", "-1", "0", "+5", " 5", "5 ", "5.0", "5.5", "1e3", "0x10", "99999999999999999999", "007"}
	// write puts the record, with field f as v ("\x00": missing), and
	// sets the key to expire as the scripts would.
	write := func(f, v string) {
		t.Helper()
		m := maps.Clone(valid)
		if v == "\x00" {
			delete(m, f)
		} else {
			m[f] = v
		}
		if err := c.Del(ctx, name).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.HSet(ctx, name, m).Err(); err != nil {
			t.Fatal(err)
		}
		if x, err := strconv.ParseInt(m["e"], 10, 64); err == nil && x > 0 {
			if err := c.PExpireAt(ctx, name, time.UnixMilli(x-1)).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	req := idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour, Takeover: true}
	for _, f := range slices.Sorted(maps.Keys(valid)) {
		for _, v := range append([]string{"\x00", valid[f]}, odd...) {
			write(f, v)
			want, wantErr := never.Claim(ctx, req)
			write(f, v)
			got, err := first.Claim(ctx, req)
			switch {
			case errors.Is(wantErr, idemtype.ErrCorrupt) && errors.Is(err, idemtype.ErrCorrupt):
			case wantErr != nil || err != nil:
				t.Errorf("%s = %q: Claim reading first = %v; script alone = %v", f, v, err, wantErr)
			case got.Acquired != want.Acquired || !sameRecord(got.Record, want.Record) && !got.Acquired:
				t.Errorf("%s = %q: Claim reading first = %+v\nscript alone = %+v", f, v, got, want)
			}
		}
	}
}
