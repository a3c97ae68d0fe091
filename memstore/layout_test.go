package memstore_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

// Records are kept as slots and bytes of an arena that the store rebuilds
// as records go (shrink.go, shard.go). A rebuild moves records; they must
// come out of it whole: state, bytes, owner, expiry.

// layoutCase is a record the tests below make and check again.
type layoutCase struct {
	key, fp string
	value   []byte // nil: left in progress
	token   idemtype.Token
	ttl     time.Duration
}

func makeRecords(t *testing.T, s *memstore.Store, prefix string, n int) []layoutCase {
	t.Helper()
	ctx := context.Background()
	recs := make([]layoutCase, n)
	for i := range recs {
		r := &recs[i]
		r.key, r.ttl = fmt.Sprint(prefix, i), time.Duration(i+1)*time.Minute
		if i%3 != 0 {
			r.fp = fmt.Sprint("fp", i)
		}
		c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: r.key, Fingerprint: r.fp, Lease: time.Hour, TTL: r.ttl})
		if err != nil || !c.Acquired {
			t.Fatalf("Claim(%s) = %+v, %v", r.key, c, err)
		}
		r.token = c.Record.Token
		if i%2 == 0 {
			r.value = bytes.Repeat([]byte{byte(i)}, i%50+1)
			if err := s.Complete(ctx, r.key, r.token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: r.value, TTL: r.ttl}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return recs
}

// check asserts that r reads back as it was made at start.
func (r *layoutCase) check(t *testing.T, s *memstore.Store, start time.Time) {
	t.Helper()
	g, err := s.Get(context.Background(), r.key)
	if err != nil {
		t.Fatalf("Get(%s): %v", r.key, err)
	}
	status := idemtype.StatusInProgress
	if r.value != nil {
		status = idemtype.StatusCompleted
	}
	if g.Key != r.key || g.Fingerprint != r.fp || g.Token != r.token || g.Status != status || !bytes.Equal(g.Value, r.value) {
		t.Fatalf("Get(%s) = key %q fp %q token %d %v value %q; want %q %q %d %v %q", r.key, g.Key, g.Fingerprint, g.Token, g.Status, g.Value, r.key, r.fp, r.token, status, r.value)
	}
	if !g.ExpiresAt.Equal(start.Add(r.ttl)) || !g.CreatedAt.Equal(start) {
		t.Fatalf("Get(%s): expires %v, created %v; want %v, %v", r.key, g.ExpiresAt, g.CreatedAt, start.Add(r.ttl), start)
	}
	// A duplicate is given the same record.
	c, err := s.Claim(context.Background(), idemtype.ClaimRequest{Key: r.key, Fingerprint: r.fp, Lease: time.Hour, TTL: r.ttl})
	if err != nil || c.Acquired {
		t.Fatalf("duplicate Claim(%s) = %+v, %v", r.key, c, err)
	}
	d := c.Record
	if d.Key != g.Key || d.Fingerprint != g.Fingerprint || d.Token != g.Token || d.Status != g.Status || !bytes.Equal(d.Value, g.Value) ||
		!d.ExpiresAt.Equal(g.ExpiresAt) || !d.CreatedAt.Equal(g.CreatedAt) || !d.UpdatedAt.Equal(g.UpdatedAt) || !d.LeaseUntil.Equal(g.LeaseUntil) {
		t.Fatalf("duplicate of %s given %+v, Get gives %+v", r.key, d, g)
	}
	if status == idemtype.StatusCompleted && d.Memo == nil {
		t.Fatalf("duplicate of completed %s given no memo", r.key)
	}
}

// Removing most records rebuilds the shard; the rest keep their state,
// their owners can still settle them, and they expire when they should.
func TestRecordsSurviveRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	start := clk.Now()
	s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1})
	defer s.Close()
	recs := makeRecords(t, s, "k", 1200)
	for _, r := range recs {
		r.check(t, s, start) // duplicates make their reads
	}
	// Kept: every fourth record but the last of them, 299 of 1200: the
	// last removal makes the shard hold under a quarter of its peak, so
	// that the rebuild is the last thing that moves the arena.
	var kept []layoutCase
	for i, r := range recs {
		if i%4 != 0 || i == 1196 {
			if err := s.Delete(ctx, r.key); err != nil {
				t.Fatal(err)
			}
			continue
		}
		kept = append(kept, r)
	}
	if peak, _ := memstore.Peaks(s); peak >= 1200 {
		t.Fatalf("peak %d after removing %d of 1200 records: no rebuild happened", peak, 1200-len(kept))
	}
	for _, r := range kept {
		r.check(t, s, start)
	}
	if n := memstore.StaleReads(s); n != 0 {
		t.Fatalf("%d reads left pointing into the arena before the rebuild", n)
	}
	// The owners of records in progress settle them after the rebuild.
	for i := range kept {
		r := &kept[i]
		if r.value != nil {
			continue
		}
		r.value = []byte("late " + r.key)
		if err := s.Complete(ctx, r.key, r.token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: r.value, TTL: r.ttl}); err != nil {
			t.Fatalf("Complete(%s) after the rebuild: %v", r.key, err)
		}
	}
	for _, r := range kept {
		r.check(t, s, start)
	}
	// Each expires at its own time, no sooner.
	for i, r := range kept {
		clk.Set(start.Add(r.ttl - time.Nanosecond))
		if n, err := s.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("Sweep before %s expired = %d, %v", r.key, n, err)
		}
		clk.Set(start.Add(r.ttl))
		if n, err := s.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("Sweep as %s expired = %d, %v; want 1", r.key, n, err)
		}
		if n := s.Len(); n != len(kept)-i-1 {
			t.Fatalf("Len = %d after %d expiries, want %d", n, i+1, len(kept)-i-1)
		}
	}
}

// Records replaced by new ones at a steady count do not grow the arena
// for ever: it is packed, and the records in it stay whole.
func TestArenaPackedAtSteadyCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	start := clk.Now()
	s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1})
	defer s.Close()
	live := makeRecords(t, s, "live", 100)
	for _, r := range live {
		r.check(t, s, start) // duplicates make their reads
	}
	before := memstore.Arena(s)
	for round := range 200 {
		prefix := fmt.Sprint("churn", round, ":")
		for _, r := range makeRecords(t, s, prefix, 20) {
			if err := s.Delete(ctx, r.key); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := memstore.Arena(s); got > 4*before+8<<10 {
		t.Fatalf("arena %d bytes after churn, %d before: not packed", got, before)
	}
	if n := memstore.StaleReads(s); n != 0 {
		t.Fatalf("%d reads left pointing into an arena packed away", n)
	}
	for _, r := range live {
		r.check(t, s, start)
	}
}

// A removed record's expiry entry is dropped when it comes due, even when
// its slot holds a newer record by then, rather than kept for the newer one.
func TestStaleExpiryEntryDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1})
	defer s.Close()
	// A record that outlives the test: an emptied shard drops every entry.
	if _, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "keep", Lease: time.Minute, TTL: 3 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	old := claim(t, s, "old") // TTL an hour
	if err := s.Release(ctx, "old", old); err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "new", Lease: time.Minute, TTL: 2 * time.Hour})
	if err != nil || !c.Acquired {
		t.Fatal(c, err)
	}
	if n := memstore.ExpiryEntries(s); n != 3 {
		t.Fatalf("%d expiry entries, want 3: keep's, the released record's and the new one's", n)
	}
	clk.Advance(time.Hour)
	if n, err := s.Sweep(ctx); n != 0 || err != nil {
		t.Fatalf("Sweep = %d, %v; want 0", n, err)
	}
	if n := memstore.ExpiryEntries(s); n != 2 {
		t.Fatalf("%d expiry entries after the released record's came due, want 2", n)
	}
	if _, err := s.Get(ctx, "new"); err != nil {
		t.Fatal(err)
	}
}

// A slot freed and used again for another record (of the same key or not)
// gives duplicates that record, not what the slot held for an earlier one.
func TestReusedSlotGivesItsOwnRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := oneShard(t)
	claim(t, s, "keep") // the shard is not emptied
	dup := func(key string) idemtype.Record {
		t.Helper()
		c, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour})
		if err != nil || c.Acquired {
			t.Fatalf("duplicate Claim(%s) = %+v, %v", key, c, err)
		}
		return c.Record
	}
	for round, key := range []string{"a", "a", "b"} {
		tok := claim(t, s, key)
		value := []byte(fmt.Sprint("value ", round))
		if err := s.Complete(ctx, key, tok, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: value, TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second is given what the first made
			if r := dup(key); r.Key != key || r.Token != tok || string(r.Value) != string(value) {
				t.Fatalf("round %d: duplicate of %s given %s token %d %q; want token %d %q", round, key, r.Key, r.Token, r.Value, tok, value)
			}
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
}
