package storetest

// Helpers the cases share: each fails the test with what it expected.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func req(key string, lease time.Duration) idemtype.ClaimRequest {
	return idemtype.ClaimRequest{Key: key, Lease: lease, TTL: time.Hour, Takeover: true}
}

func claim(t *testing.T, s idemtype.Store, r idemtype.ClaimRequest) idemtype.Claim {
	t.Helper()
	c, err := s.Claim(ctx(t), r)
	if err != nil {
		t.Fatalf("Claim(%q): %v", r.Key, err)
	}
	return c
}

func mustAcquire(t *testing.T, s idemtype.Store, r idemtype.ClaimRequest) idemtype.Record {
	t.Helper()
	c := claim(t, s, r)
	if !c.Acquired {
		t.Fatalf("Claim(%q) not acquired; record %+v", r.Key, c.Record)
	}
	return c.Record
}

func mustNotAcquire(t *testing.T, s idemtype.Store, r idemtype.ClaimRequest) idemtype.Claim {
	t.Helper()
	c := claim(t, s, r)
	if c.Acquired {
		t.Fatalf("Claim(%q) acquired again with token %d", r.Key, c.Record.Token)
	}
	return c
}

func complete(t *testing.T, s idemtype.Store, key string, tok idemtype.Token, status idemtype.Status, value []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Complete(ctx(t), key, tok, idemtype.Outcome{Status: status, Value: value, TTL: ttl}); err != nil {
		t.Fatalf("Complete(%q, %d): %v", key, tok, err)
	}
}

func get(t *testing.T, s idemtype.Store, key string) idemtype.Record {
	t.Helper()
	r, err := s.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return r
}

func wantNotFound(t *testing.T, s idemtype.Store, key string) {
	t.Helper()
	if r, err := s.Get(ctx(t), key); !errors.Is(err, idemtype.ErrNotFound) {
		t.Fatalf("Get(%q) = %+v, %v; want ErrNotFound", key, r, err)
	}
}

func wantLeaseLost(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, idemtype.ErrLeaseLost) {
		t.Fatalf("%s = %v; want ErrLeaseLost", what, err)
	}
}
