package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
)

// TestCorruptRecords: whatever sits under a record's name that is not a
// well-formed record of that key is reported as ErrCorrupt by Get and
// Claim (reading first or not), never as not-found or as another key's
// record, and Claim, Complete, Extend and Release leave it as it is.
func TestCorruptRecords(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	c, _ := client(t, srv.Addr())
	valid := map[string]any{"k": "k", "f": "", "s": "1", "t": "5", "v": "", "l": "1", "e": "0", "c": "1", "u": "1"}
	with := func(field string, v any) map[string]any {
		m := make(map[string]any, len(valid))
		for k, x := range valid {
			m[k] = x
		}
		if v == nil {
			delete(m, field)
		} else {
			m[field] = v
		}
		return m
	}
	cases := []struct {
		name  string
		write func(ctx context.Context, name string) error
	}{
		{"string", func(ctx context.Context, name string) error { return c.Set(ctx, name, "garbage", 0).Err() }},
		{"list", func(ctx context.Context, name string) error { return c.RPush(ctx, name, "x").Err() }},
		{"another key's record", func(ctx context.Context, name string) error { return c.HSet(ctx, name, with("k", "other")).Err() }},
		{"status out of range", func(ctx context.Context, name string) error { return c.HSet(ctx, name, with("s", "9")).Err() }},
		{"token not a number", func(ctx context.Context, name string) error { return c.HSet(ctx, name, with("t", "abc")).Err() }},
		{"lease not a number", func(ctx context.Context, name string) error { return c.HSet(ctx, name, with("l", "soon")).Err() }},
		{"missing updated", func(ctx context.Context, name string) error { return c.HSet(ctx, name, with("u", nil)).Err() }},
		{"missing created", func(ctx context.Context, name string) error { return c.HSet(ctx, name, with("c", nil)).Err() }},
		{"completed, bad expiry", func(ctx context.Context, name string) error {
			m := with("s", "2")
			m["e"] = "-5"
			return c.HSet(ctx, name, m).Err()
		}},
		// Finished records, which a read first decodes before it leaves
		// them to the claim script.
		{"completed, another key's record", func(ctx context.Context, name string) error {
			m := with("s", "2")
			m["k"] = "other"
			return c.HSet(ctx, name, m).Err()
		}},
		{"failed, token not a number", func(ctx context.Context, name string) error {
			m := with("s", "3")
			m["t"] = "abc"
			return c.HSet(ctx, name, m).Err()
		}},
		{"completed, missing created", func(ctx context.Context, name string) error {
			m := with("s", "2")
			delete(m, "c")
			return c.HSet(ctx, name, m).Err()
		}},
	}
	for _, tc := range cases {
		for _, rf := range []idemtype.ReadFirst{idemtype.ReadFirstNever, idemtype.ReadFirstAlways} {
			t.Run(tc.name+", read first "+rf.String(), func(t *testing.T) {
				t.Parallel()
				s := newStore(t, c, &redisstore.Options{ReadFirst: rf})
				ctx := context.Background()
				name := s.RedisKey("k")
				if err := tc.write(ctx, name); err != nil {
					t.Fatal(err)
				}
				before, err := c.Dump(ctx, name).Result()
				if err != nil {
					t.Fatal(err)
				}
				// A CorruptError of the operation, naming the record by its
				// Redis key.
				isCorrupt := func(op string, err error) bool {
					var ce *idemtype.CorruptError
					return errors.As(err, &ce) && errors.Is(err, idemtype.ErrCorrupt) && ce.Store == "redisstore" &&
						ce.Op == op && ce.Key == "k" && ce.Path == name && ce.Reason != ""
				}
				if r, err := s.Get(ctx, "k"); !isCorrupt("get", err) {
					t.Errorf("Get = %+v, %#v; want a CorruptError", r, err)
				}
				req := idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour, Takeover: true}
				if cl, err := s.Claim(ctx, req); !isCorrupt("claim", err) {
					t.Errorf("Claim = %+v, %#v; want a CorruptError", cl, err)
				}
				// Token 5 is the corrupt record's own, where it has one.
				out := idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v")}
				for op, err := range map[string]error{
					"Complete": s.Complete(ctx, "k", 5, out),
					"Extend":   s.Extend(ctx, "k", 5, time.Minute),
				} {
					if !isCorrupt(strings.ToLower(op), err) && err != idemtype.ErrLeaseLost {
						t.Errorf("%s on a corrupt record = %v", op, err)
					}
				}
				for op, err := range map[string]error{
					"Release": s.Release(ctx, "k", 5),
				} {
					if !isCorrupt(strings.ToLower(op), err) && err != idemtype.ErrLeaseLost {
						t.Errorf("%s on a corrupt record = %v", op, err)
					}
				}
				if after, err := c.Dump(ctx, name).Result(); err != nil || after != before {
					t.Errorf("corrupt value changed or removed by a write (%v)", err)
				}
				if err := s.Delete(ctx, "k"); err != nil {
					t.Fatalf("Delete of a corrupt record: %v", err)
				}
				if _, err := s.Get(ctx, "k"); !errors.Is(err, idemtype.ErrNotFound) {
					t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
				}
			})
		}
	}
}
