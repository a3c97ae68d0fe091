package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testchild"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
)

// fillRedis writes 64 KiB values until Redis refuses a write for lack of
// memory, then holds it full: maxmemory drops 1 MiB below what is used,
// so that freed buffers cannot make room again.
func fillRedis(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	filler := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		err := c.Set(ctx, "filler:"+strconv.Itoa(i), filler, 0).Err()
		if err == nil {
			continue
		}
		if !strings.HasPrefix(err.Error(), "OOM") {
			t.Fatalf("filling Redis: %v", err)
		}
		break
	}
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			total, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if total < 2<<20 {
		t.Fatalf("used_memory %d after filling", total)
	}
	if err := c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(total-1<<20, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "probe", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("SET on a full Redis = %v, want OOM", err)
	}
}

// TestMaxMemory: Redis fills up (maxmemory, noeviction) while fn runs.
// fn's outcome is still recorded, so it runs once however often the key
// is called; claims that were made before keep working (extend, complete,
// release, delete); and new claims and takeovers are refused with an
// error matching idemtype.ErrFull (and ErrStore), reported in the log,
// without running fn.
func TestMaxMemory(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t, testserver.RedisArgs("--maxmemory", "4mb", "--maxmemory-policy", "noeviction"))
	c, _ := client(t, srv.Addr())
	s := newStore(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var logs testchild.Buffer
	g := idempotency.New(s, &idempotency.Config{Lease: time.Minute, TTL: time.Hour, WaitTimeout: -1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	// Claims made while there is room.
	claim := func(key string, lease time.Duration) idemtype.Token {
		cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: lease, TTL: time.Hour, Takeover: true})
		if err != nil || !cl.Acquired {
			t.Fatalf("Claim %s = %+v, %v", key, cl, err)
		}
		return cl.Record.Token
	}
	extended, completed, released := claim("extended", time.Minute), claim("completed", time.Minute),
		claim("released", time.Minute)
	claim("deleted", time.Minute)
	claim("lapsed", time.Millisecond)

	var runs atomic.Int64
	receipt := strings.Repeat("r", 16<<10)
	fn := func(context.Context) (string, error) {
		if runs.Add(1) == 1 {
			fillRedis(t, c) // the store fills up while fn runs
		}
		return receipt, nil
	}
	v, err := idempotency.Do(ctx, g, "charge", fn)
	if err != nil || v != receipt {
		t.Fatalf("call that filled Redis = %d bytes, %v; want its result recorded", len(v), err)
	}
	for i := range 3 {
		if v, err := idempotency.Do(ctx, g, "charge", fn); err != nil || v != receipt {
			t.Fatalf("duplicate %d on a full Redis = %d bytes, %v; want the recorded result", i, len(v), err)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("fn ran %d times, want once", n)
	}
	// Reading first, a duplicate is answered by the read alone, and a new
	// key is refused by the claim script as above.
	rf := newStore(t, c, &redisstore.Options{Prefix: prefixOf(s), ReadFirst: idemtype.ReadFirstAlways})
	if cl, err := rf.Claim(ctx, idemtype.ClaimRequest{Key: "charge", Lease: time.Minute, TTL: time.Hour}); err != nil ||
		cl.Acquired || cl.Record.Status != idemtype.StatusCompleted || len(cl.Record.Value) < len(receipt) {
		t.Fatalf("duplicate Claim, reading first, on a full Redis = %+v, %v; want the completed record", cl.Record.Status, err)
	}
	if _, err := rf.Claim(ctx, idemtype.ClaimRequest{Key: "new", Lease: time.Minute, TTL: time.Hour}); !errors.Is(err, idemtype.ErrFull) {
		t.Fatalf("new Claim, reading first, on a full Redis = %v; want ErrFull", err)
	}

	// Executions that hold a claim settle it on a full Redis.
	out := idemtype.Outcome{Status: idemtype.StatusFailed, Value: []byte("declined"), TTL: time.Hour}
	for op, err := range map[string]error{
		"Extend":   s.Extend(ctx, "extended", extended, time.Hour),
		"Complete": s.Complete(ctx, "completed", completed, out),
		"Release":  s.Release(ctx, "released", released),
		"Delete":   s.Delete(ctx, "deleted"),
	} {
		if err != nil {
			t.Errorf("%s on a full Redis: %v", op, err)
		}
	}
	if rec, err := s.Get(ctx, "completed"); err != nil || rec.Status != idemtype.StatusFailed || string(rec.Value) != "declined" {
		t.Errorf("record completed on a full Redis: %+v, %v", rec, err)
	}
	if rec, err := s.Get(ctx, "extended"); err != nil || time.Until(rec.LeaseUntil) < 30*time.Minute {
		t.Errorf("record extended on a full Redis: %+v, %v", rec, err)
	}

	// New keys and takeovers would add records: refused, fn not run.
	for _, key := range []string{"new", "released", "lapsed"} {
		_, err := idempotency.Do(ctx, g, key, fn)
		if !errors.Is(err, idempotency.ErrStore) || !errors.Is(err, idemtype.ErrFull) || !strings.Contains(err.Error(), "OOM") ||
			!strings.Contains(err.Error(), "redisstore: claim") {
			t.Errorf("call of %q on a full Redis = %v; want ErrStore and ErrFull from the claim, saying OOM", key, err)
		}
		// The store's own error: an OpError of the claim, matching
		// ErrFull and so ErrStore, with Redis's reply still inside.
		_, err = s.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour, Takeover: true})
		var oe *idemtype.OpError
		var re redis.Error
		if !errors.As(err, &oe) || oe.Op != "claim" || oe.Key != key || !errors.Is(err, idemtype.ErrFull) ||
			!errors.Is(err, idemtype.ErrStore) || !errors.As(err, &re) || !strings.HasPrefix(err.Error(), "idempotency: redisstore: claim: store full: OOM") {
			t.Errorf("Claim of %q on a full Redis = %#v (%v); want an OpError matching ErrFull and ErrStore", key, err, err)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("fn ran %d times, want once", n)
	}
	if l := logs.String(); strings.Count(l, "level=ERROR") < 3 || !strings.Contains(l, "OOM") {
		t.Errorf("refused claims not logged at error level:\n%s", l)
	}

	// Room again: new keys run.
	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := idempotency.Do(ctx, g, "new", fn); err != nil || runs.Load() != 2 {
		t.Fatalf("call once Redis has room = %v, runs %d", err, runs.Load())
	}
}
