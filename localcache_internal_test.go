package idempotency

import (
	"testing"
	"time"
)

// Of two final records of a key put in the local cache, the later
// execution's (the larger token) is kept while fresh, whichever read
// returned first; an expired entry gives way to any record.
func TestLocalCachePutKeepsTheLaterExecution(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(tok Token) Record { return Record{Key: "k", Status: StatusCompleted, Token: tok} }
	for _, tc := range []struct {
		name   string
		first  Token
		second Token
		later  time.Duration // from the first put to the second
		want   Token
	}{
		{"NewerAfterOlder", 1, 2, 0, 2},
		{"OlderAfterNewer", 2, 1, 0, 2},
		{"OlderAfterNewerExpired", 2, 1, 2 * time.Minute, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newLocalCache(LocalCacheConfig{MaxAge: time.Minute, MaxEntries: 10})
			_, epoch := c.get("k", now)
			c.put(rec(tc.first), epoch, now)
			at := now.Add(tc.later)
			_, epoch = c.get("k", at)
			c.put(rec(tc.second), epoch, at)
			if e, _ := c.get("k", at); e == nil || e.rec.Token != tc.want {
				t.Fatalf("cached %+v, want token %d", e, tc.want)
			}
		})
	}
}

// A local cache is split into shards of at least localShardMin entries,
// at most 32, so that a small MaxEntries is exact and a large one is not
// behind one lock; each shard holds its part of MaxEntries.
func TestLocalCacheShards(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		max, shards int
	}{
		{1, 1}, {255, 1}, {256, 2}, {511, 2}, {512, 4}, {4095, 16}, {4096, 32}, {8192, 32}, {1 << 20, 32},
	} {
		c := newLocalCache(LocalCacheConfig{MaxAge: time.Minute, MaxEntries: tc.max})
		if len(c.shards) != tc.shards || c.limit != tc.max/tc.shards {
			t.Errorf("MaxEntries %d: %d shards of %d, want %d of %d", tc.max, len(c.shards), c.limit, tc.shards, tc.max/tc.shards)
		}
	}
	if c := newLocalCache(LocalCacheConfig{MaxEntries: 100}); c != nil {
		t.Errorf("a local cache without MaxAge: %+v, want none", c)
	}
}
