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
	"github.com/redis/go-redis/v9"
)

// secretKey stands for a key holding client data; no error may show it.
const secretKey = "card-4242424242424242"

// checkLabel fails unless err is labelled with op (and the record's Redis
// key, when it concerns one record), wraps want, and hides the user's key.
func checkLabel(t *testing.T, s *redisstore.Store, op string, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", op)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "idempotency: redisstore: "+op+": ") &&
		!strings.HasPrefix(msg, "idempotency: redisstore: "+op+" "+s.RedisKey(secretKey)+": ") {
		t.Errorf("%s: error %q is not labelled %q", op, msg, op)
	}
	if strings.Contains(msg, secretKey) {
		t.Errorf("%s: error %q shows the user's key", op, msg)
	}
	if strings.Count(msg, "idempotency: ") != 1 {
		t.Errorf("%s: error %q repeats the prefix", op, msg)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("%s: error %q does not wrap %v", op, msg, want)
	}
}

// TestErrorLabels: every operation's errors say which operation failed
// (claim, complete, release, extend, get, delete, list, watch, load
// scripts), whatever the cause: the server down, a lost lease, a corrupt
// record, a closed store.
func TestErrorLabels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	out := idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v")}
	req := idemtype.ClaimRequest{Key: secretKey, Lease: time.Minute, TTL: time.Hour}

	t.Run("server down", func(t *testing.T) {
		t.Parallel()
		srv := testserver.StartRedis(t)
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		t.Cleanup(func() { _ = c.Close() })
		s := newStore(t, c, nil)
		srv.Kill()
		_, claimErr := s.Claim(ctx, req)
		_, getErr := s.Get(ctx, secretKey)
		_, _, watchErr := s.Watch(ctx, secretKey)
		for op, err := range map[string]error{
			"claim":        claimErr,
			"complete":     s.Complete(ctx, secretKey, 1, out),
			"release":      s.Release(ctx, secretKey, 1),
			"extend":       s.Extend(ctx, secretKey, 1, time.Minute),
			"get":          getErr,
			"delete":       s.Delete(ctx, secretKey),
			"list":         s.List(ctx, "", func(idemtype.Record) bool { return true }),
			"watch":        watchErr,
			"load scripts": s.LoadScripts(ctx),
		} {
			checkLabel(t, s, op, err, nil)
		}
	})

	t.Run("lease lost", func(t *testing.T) {
		t.Parallel()
		c, _ := client(t, testserver.StartRedis(t).Addr())
		s := newStore(t, c, nil)
		for op, err := range map[string]error{
			"complete": s.Complete(ctx, secretKey, 1, out),
			"release":  s.Release(ctx, secretKey, 1),
			"extend":   s.Extend(ctx, secretKey, 1, time.Minute),
		} {
			checkLabel(t, s, op, err, idemtype.ErrLeaseLost)
		}
		checkLabel(t, s, "complete", s.Complete(ctx, secretKey, 1, idemtype.Outcome{Status: idemtype.StatusInProgress}), nil)
	})

	t.Run("corrupt record", func(t *testing.T) {
		t.Parallel()
		c, _ := client(t, testserver.StartRedis(t).Addr())
		s := newStore(t, c, nil)
		// A record of another key under secretKey's name.
		if err := c.HSet(ctx, s.RedisKey(secretKey), "k", "other", "f", "", "s", "1", "t", "5", "v", "",
			"l", "1", "e", "0", "c", "1", "u", "1").Err(); err != nil {
			t.Fatal(err)
		}
		_, claimErr := s.Claim(ctx, req)
		_, getErr := s.Get(ctx, secretKey)
		for op, err := range map[string]error{
			"claim":    claimErr,
			"get":      getErr,
			"complete": s.Complete(ctx, secretKey, 5, out),
			"release":  s.Release(ctx, secretKey, 5),
			"extend":   s.Extend(ctx, secretKey, 5, time.Minute),
		} {
			checkLabel(t, s, op, err, idemtype.ErrCorrupt)
		}
		// List finds it by scanning: a record named for secretKey that
		// holds another key's record.
		if err := c.HSet(ctx, s.RedisKey(secretKey), "k", secretKey+"x").Err(); err != nil {
			t.Fatal(err)
		}
		listErr := s.List(ctx, "", func(idemtype.Record) bool { return true })
		checkLabel(t, s, "list", listErr, idemtype.ErrCorrupt)
		if err := c.Set(ctx, s.RedisKey(secretKey), "garbage", 0).Err(); err != nil {
			t.Fatal(err)
		}
		_, getErr = s.Get(ctx, secretKey)
		checkLabel(t, s, "get", getErr, idemtype.ErrCorrupt)
	})

	t.Run("watch", func(t *testing.T) {
		t.Parallel()
		c, _ := client(t, testserver.StartRedis(t).Addr())
		off := newStore(t, c, &redisstore.Options{PubSub: redisstore.PubSubOff})
		_, _, err := off.Watch(ctx, secretKey)
		checkLabel(t, off, "watch", err, redisstore.ErrNoPubSub)
		closed := newStore(t, c, nil)
		_ = closed.Close()
		_, _, err = closed.Watch(ctx, secretKey)
		checkLabel(t, closed, "watch", err, redisstore.ErrClosed)
		s := newStore(t, c, nil)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err = s.Watch(cctx, secretKey); err != nil { // may win the race with the cancellation
			checkLabel(t, s, "watch", err, context.Canceled)
		}
	})
}
