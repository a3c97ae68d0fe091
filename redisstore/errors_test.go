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

// checkLabel fails unless err is an *idemtype.OpError, or for a corrupt
// record an *idemtype.CorruptError whose Path is the record's Redis key,
// of the store "redisstore" and operation op, for key (not shown in the
// message), that wraps want.
func checkLabel(t *testing.T, s *redisstore.Store, op, key string, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", op)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "idempotency: redisstore: "+op+": ") {
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
	var oe *idemtype.OpError
	var ce *idemtype.CorruptError
	switch {
	case errors.As(err, &ce):
		if ce.Store != "redisstore" || ce.Op != op || ce.Key != key || ce.Path != s.RedisKey(secretKey) {
			t.Errorf("%s: CorruptError %+v; want Store redisstore, Op %s, Key %q, Path %s", op, ce, op, key, s.RedisKey(secretKey))
		}
	case errors.As(err, &oe):
		if oe.Store != "redisstore" || oe.Op != op || oe.Key != key {
			t.Errorf("%s: OpError %+v; want Store redisstore, Op %s, Key %q", op, oe, op, key)
		}
		if errors.Is(err, idemtype.ErrCorrupt) {
			t.Errorf("%s: corrupt record reported as %T, want *idemtype.CorruptError", op, err)
		}
	default:
		t.Errorf("%s: error %q is a %T, want *idemtype.OpError or *idemtype.CorruptError", op, msg, err)
	}
}

// TestErrorLabels: every operation's failures are idemtype.OpError or
// idemtype.CorruptError values that say which operation failed (claim,
// complete, release, extend, get, delete, list, watch, load scripts) and
// for which key, without showing it, whatever the cause: the server down,
// a corrupt record, a closed store, notifications off. The contract's
// replies (a lost lease) and the context's errors come bare.
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
			key := secretKey
			if op == "list" || op == "load scripts" {
				key = ""
			}
			checkLabel(t, s, op, key, err, nil)
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
			if err != idemtype.ErrLeaseLost {
				t.Errorf("%s without a claim = %v, want ErrLeaseLost bare", op, err)
			}
		}
		checkLabel(t, s, "complete", secretKey, s.Complete(ctx, secretKey, 1, idemtype.Outcome{Status: idemtype.StatusInProgress}), nil)
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
			checkLabel(t, s, op, secretKey, err, idemtype.ErrCorrupt)
		}
		// List finds it by scanning: a record named for secretKey that
		// holds another key's record.
		if err := c.HSet(ctx, s.RedisKey(secretKey), "k", secretKey+"x").Err(); err != nil {
			t.Fatal(err)
		}
		listErr := s.List(ctx, "", func(idemtype.Record) bool { return true })
		checkLabel(t, s, "list", "", listErr, idemtype.ErrCorrupt) // its key cannot be known
		if err := c.Set(ctx, s.RedisKey(secretKey), "garbage", 0).Err(); err != nil {
			t.Fatal(err)
		}
		_, getErr = s.Get(ctx, secretKey)
		checkLabel(t, s, "get", secretKey, getErr, idemtype.ErrCorrupt)
	})

	t.Run("watch", func(t *testing.T) {
		t.Parallel()
		c, _ := client(t, testserver.StartRedis(t).Addr())
		off := newStore(t, c, &redisstore.Options{PubSub: redisstore.PubSubOff})
		_, _, err := off.Watch(ctx, secretKey)
		checkLabel(t, off, "watch", secretKey, err, redisstore.ErrNoPubSub)
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Watch with notifications off = %v, want a match for errors.ErrUnsupported", err)
		}
		closed := newStore(t, c, nil)
		_ = closed.Close()
		_, _, err = closed.Watch(ctx, secretKey)
		checkLabel(t, closed, "watch", secretKey, err, redisstore.ErrClosed)
		s := newStore(t, c, nil)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err = s.Watch(cctx, secretKey); err != nil && !errors.Is(err, context.Canceled) { // may win the race with the cancellation
			t.Errorf("Watch with a cancelled context = %v, want context.Canceled", err)
		}
	})
}
