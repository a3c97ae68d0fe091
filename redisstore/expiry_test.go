package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
)

// TestExpiryRule: the scripts' expiry rule, run by Redis, is idemtype.Live's
// at and around the boundary: a record is gone at its expires_at, not a
// millisecond later as a Redis key is.
func TestExpiryRule(t *testing.T) {
	t.Parallel()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	const now = 1_700_000_000_000
	for _, tc := range []struct {
		name string
		e    int64
	}{
		{"never", 0},
		{"a millisecond before", now - 1},
		{"at expires_at", now},
		{"a millisecond after", now + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Eval(context.Background(), redisstore.GoneScript, nil, tc.e, now).Int()
			if err != nil {
				t.Fatal(err)
			}
			rec := idemtype.Record{}
			if tc.e != 0 {
				rec.ExpiresAt = time.UnixMilli(tc.e)
			}
			if want := !idemtype.Live(&rec, time.UnixMilli(now)); (got == 1) != want {
				t.Errorf("scripts: gone = %d for expires_at %d at %d; idemtype.Live says gone = %v", got, tc.e, now, want)
			}
		})
	}
}

// TestExpiredRecord: a record whose expires_at has come, though Redis still
// holds its key, is absent for every operation: Get says ErrNotFound, List
// leaves it out, its owner's token no longer settles or extends it, and a
// claim acquires the key afresh with a larger token. The records are
// written with expires_at at or before the server time read just before
// (and no Redis expiry), so the result does not depend on timing.
func TestExpiredRecord(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	c, _ := client(t, srv.Addr())
	for _, tc := range []struct {
		name   string
		status string
		ago    int64 // expires_at this many ms before the server time
	}{
		{"in progress, at expires_at", "1", 0},
		{"in progress, past expires_at", "1", 1000},
		{"completed, at expires_at", "2", 0},
		{"failed, past expires_at", "3", 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// Reading first, so that the read also meets these records: no
			// key expiry, so they are left to the scripts.
			s := newStore(t, c, &redisstore.Options{ReadFirst: idemtype.ReadFirstAlways})
			now, err := c.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			ms := now.UnixMilli()
			lease := strconv.FormatInt(ms+time.Hour.Milliseconds(), 10) // the lease alone would not lapse
			const tok = 5
			write := func() {
				t.Helper()
				if err := c.HSet(ctx, s.RedisKey("k"), "k", "k", "f", "", "s", tc.status, "t", tok, "v", "old",
					"l", lease, "e", ms-tc.ago, "c", ms-5000, "u", ms-5000).Err(); err != nil {
					t.Fatal(err)
				}
			}
			write()
			if rec, err := s.Get(ctx, "k"); !errors.Is(err, idemtype.ErrNotFound) {
				t.Errorf("Get = %+v, %v; want ErrNotFound", rec, err)
			}
			var listed []string
			if err := s.List(ctx, "", func(r idemtype.Record) bool { listed = append(listed, r.Key); return true }); err != nil || len(listed) != 0 {
				t.Errorf("List = %q, %v; want nothing", listed, err)
			}
			out := idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("new"), TTL: time.Hour}
			for op, err := range map[string]error{
				"Complete": s.Complete(ctx, "k", tok, out),
				"Extend":   s.Extend(ctx, "k", tok, time.Hour),
				"Release":  s.Release(ctx, "k", tok),
			} {
				if err != idemtype.ErrLeaseLost {
					t.Errorf("%s by the expired record's token = %v, want ErrLeaseLost", op, err)
				}
			}
			if v, err := c.HGet(ctx, s.RedisKey("k"), "v").Result(); err != nil || v != "old" {
				t.Errorf("expired record's value after the refused writes = %q, %v; want it untouched", v, err)
			}
			cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Fingerprint: "other", Lease: time.Minute, TTL: time.Hour})
			if err != nil || !cl.Acquired || cl.TookOver || cl.Record.Token <= tok || cl.Record.Fingerprint != "other" {
				t.Fatalf("Claim of an expired key = %+v, %v; want acquired afresh with a token above %d", cl, err, tok)
			}
			if rec, err := s.Get(ctx, "k"); err != nil || rec.Token != cl.Record.Token || rec.Status != idemtype.StatusInProgress || rec.Value != nil {
				t.Errorf("Get after the claim = %+v, %v; want the new claim", rec, err)
			}
		})
	}
}

// TestExpireAfterSlowScript: a record written with expires_at e lives
// until e even when its script ran until e - 1 before setting the key's
// expiry (Redis 7.0 deletes a key at once whose PEXPIREAT is not after its
// clock as the command runs, whatever time the script started at).
func TestExpireAfterSlowScript(t *testing.T) {
	t.Parallel()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, ttl := range []int{2, 3, 10} {
		// The script's last steps must run within the millisecond e - 1
		// for the case to count; a try that ran past it is repeated.
		for try := 0; ; try++ {
			if try == 100 {
				t.Fatalf("TTL %d ms: no try ran its expiry within expires_at - 1", ttl)
			}
			r, err := c.Eval(ctx, redisstore.StalledExpireScript, []string{"stalled:" + strconv.Itoa(ttl)}, ttl).Int64Slice()
			if err != nil {
				t.Fatal(err)
			}
			exists, e, after := r[0], r[1], r[2]
			if after >= e {
				continue
			}
			if exists != 1 {
				t.Fatalf("TTL %d ms: key deleted at %d, before its record's expires_at %d", ttl, after, e)
			}
			break
		}
	}
}
