package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

func claimReq(key string) idemtype.ClaimRequest {
	return idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour, Takeover: true}
}

// wantFull checks that a claim of key is refused for room, as the guard
// needs it (ErrStore: fn not run) and labelled as a claim of key.
func wantFull(t *testing.T, s *memstore.Store, key string) {
	t.Helper()
	c, err := s.Claim(context.Background(), claimReq(key))
	if !errors.Is(err, memstore.ErrFull) || !errors.Is(err, idemtype.ErrStore) {
		t.Fatalf("Claim(%q) of a full store = %+v, %v; want ErrFull", key, c, err)
	}
	var oe *idemtype.OpError
	if !errors.As(err, &oe) || oe.Op != "claim" || oe.Key != key || oe.Store != "memstore" {
		t.Fatalf("Claim(%q) of a full store: %#v, want an OpError of the claim", key, err)
	}
	if _, err := s.Get(context.Background(), key); !errors.Is(err, idemtype.ErrNotFound) {
		t.Fatalf("a refused claim left a record: %v", err)
	}
}

func acquire(t *testing.T, s *memstore.Store, key string) idemtype.Token {
	t.Helper()
	c, err := s.Claim(context.Background(), claimReq(key))
	if err != nil || !c.Acquired {
		t.Fatalf("Claim(%q) = %+v, %v", key, c, err)
	}
	return c.Record.Token
}

func TestMaxRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := storetest.NewClock(time.Unix(1e9, 0))
	s := memstore.New(&memstore.Options{MaxRecords: 3, MaxBytes: -1, Now: c.Now, SweepInterval: -1})
	defer s.Close()
	a, b := acquire(t, s, "a"), acquire(t, s, "b")
	acquire(t, s, "c")
	wantFull(t, s, "d")

	// Full refuses new keys only: duplicates are answered, completions
	// and takeovers of the records it holds go through.
	if dup, err := s.Claim(ctx, claimReq("a")); err != nil || dup.Acquired || dup.Record.Token != a {
		t.Fatalf("duplicate claim of a full store = %+v, %v", dup, err)
	}
	if err := s.Complete(ctx, "a", a, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(strings.Repeat("v", 1<<20)), TTL: time.Minute}); err != nil {
		t.Fatalf("Complete in a full store: %v", err)
	}
	c.Advance(2 * time.Minute) // every lease lapsed; a's outcome expired
	if tk, err := s.Claim(ctx, claimReq("b")); err != nil || !tk.TookOver {
		t.Fatalf("takeover in a full store = %+v, %v", tk, err)
	}

	// Room freed by a release, a delete or an expiry is used again; the
	// expired record is in another shard than the claim, and no sweeper
	// runs: the full store drops it itself.
	acquire(t, s, "d") // a expired
	wantFull(t, s, "e")
	if err := s.Release(ctx, "b", b); !errors.Is(err, idemtype.ErrLeaseLost) {
		t.Fatalf("Release by the taken-over owner = %v", err)
	}
	tb, _ := s.Get(ctx, "b")
	if err := s.Release(ctx, "b", tb.Token); err != nil {
		t.Fatal(err)
	}
	acquire(t, s, "e")
	wantFull(t, s, "f")
	if err := s.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	acquire(t, s, "f")
	wantFull(t, s, "g")
	s.Clear()
	for _, k := range []string{"g", "h", "i"} {
		acquire(t, s, k)
	}
	wantFull(t, s, "j")
}

func TestMaxBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	per := int64(memstore.RecordOverhead + 2) // a key of 2 bytes, no fingerprint
	s := memstore.New(&memstore.Options{MaxRecords: -1, MaxBytes: 3*per + 100, SweepInterval: -1})
	defer s.Close()
	k0, k1 := acquire(t, s, "k0"), acquire(t, s, "k1")
	// A value is counted when completed, and never refused.
	value := []byte(strings.Repeat("v", 1000))
	if err := s.Complete(ctx, "k0", k0, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: value, TTL: time.Hour}); err != nil {
		t.Fatalf("Complete beyond MaxBytes: %v", err)
	}
	if got, want := s.Bytes(), 2*per+1000; got != want {
		t.Fatalf("Bytes = %d, want %d", got, want)
	}
	wantFull(t, s, "k2")
	if records, _, recount, _ := memstore.Usage(s); records != 2 || recount != 2 {
		t.Fatalf("%d records counted (%d held) after a claim refused for its bytes, want 2", records, recount)
	}
	if err := s.Delete(ctx, "k0"); err != nil {
		t.Fatal(err)
	}
	acquire(t, s, "k2")
	acquire(t, s, "k3")
	wantFull(t, s, "k4") // 3 records and no value: the 4th passes the bound
	if err := s.Release(ctx, "k1", k1); err != nil {
		t.Fatal(err)
	}
	acquire(t, s, "k4")
	wantFull(t, s, "k")
	if got, want := s.Bytes(), 3*per; got != want {
		t.Fatalf("Bytes = %d, want %d", got, want)
	}
}

func TestDefaultBound(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name           string
		opts           *memstore.Options
		records, bytes int64
	}{
		{"Nil", nil, memstore.DefaultMaxRecords, memstore.DefaultMaxBytes},
		{"Zero", &memstore.Options{}, memstore.DefaultMaxRecords, memstore.DefaultMaxBytes},
		{"Set", &memstore.Options{MaxRecords: 5, MaxBytes: 7}, 5, 7},
		{"Unbounded", &memstore.Options{MaxRecords: -1, MaxBytes: -1}, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := memstore.New(c.opts)
			defer s.Close()
			if r, b := memstore.Bounds(s); r != c.records || b != c.bytes {
				t.Fatalf("bounds %d records, %d bytes; want %d, %d", r, b, c.records, c.bytes)
			}
		})
	}
}

// A guard over a full store fails closed: ErrStore, fn not run, and the
// cause says the store is full.
func TestGuardOverFullStore(t *testing.T) {
	t.Parallel()
	s := memstore.New(&memstore.Options{MaxRecords: 2, SweepInterval: -1})
	defer s.Close()
	g := idempotency.New(s, nil)
	ran := 0
	fn := func(context.Context) (int, error) { ran++; return ran, nil }
	for i := range 2 {
		if _, err := idempotency.Do(context.Background(), g, fmt.Sprint("k", i), fn); err != nil {
			t.Fatal(err)
		}
	}
	_, err := idempotency.Do(context.Background(), g, "k2", fn)
	if !errors.Is(err, idempotency.ErrStore) || !errors.Is(err, memstore.ErrFull) {
		t.Fatalf("Do on a full store = %v, want ErrStore and ErrFull", err)
	}
	if ran != 2 {
		t.Fatalf("fn ran %d times, want 2: not for the refused key", ran)
	}
	if !errors.Is(memstore.ErrFull, idempotency.ErrStore) {
		t.Error("memstore.ErrFull does not match idempotency.ErrStore by itself")
	}
	if v, err := idempotency.Do(context.Background(), g, "k0", fn); err != nil || v != 1 {
		t.Fatalf("duplicate on a full store = %d, %v; want the stored 1", v, err)
	}
	if err := s.Delete(context.Background(), "k1"); err != nil {
		t.Fatal(err)
	}
	if v, err := idempotency.Do(context.Background(), g, "k2", fn); err != nil || v != 3 {
		t.Fatalf("Do after room was freed = %d, %v", v, err)
	}
}

// A bound is reached, not passed, by the record that fills it exactly; the
// next is refused with a message that counts what the store holds.
func TestBoundsReachedExactly(t *testing.T) {
	t.Parallel()
	per := int64(memstore.RecordOverhead + 2) // a key of 2 bytes, no fingerprint
	for _, c := range []struct {
		name string
		opts memstore.Options
		want string
	}{
		{"MaxRecords", memstore.Options{MaxRecords: 2, MaxBytes: -1},
			"idempotency: store full: 2 records, Options.MaxRecords is 2"},
		{"MaxBytes", memstore.Options{MaxRecords: -1, MaxBytes: 2 * per},
			fmt.Sprintf("idempotency: store full: %d bytes with a new record of %d, Options.MaxBytes is %d", 3*per, per, 2*per)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.opts.SweepInterval = -1
			s := memstore.New(&c.opts)
			defer s.Close()
			acquire(t, s, "k0")
			acquire(t, s, "k1")
			wantFull(t, s, "k2")
			_, err := s.Claim(context.Background(), claimReq("k3"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Claim of a full store: %v; want it to say %q", err, c.want)
			}
		})
	}
}
