// Package memstore is an in-process idempotency store: the default store of
// idempotency.New, and the one for tests and single-process programs.
//
// Records live in shards, each with its own lock, so unrelated keys never
// contend. A shard keeps its records without pointers (a slot per record,
// keys, fingerprints and values in one arena, an index of hashes), so the
// garbage collector has next to nothing to scan however many records the
// store holds, and a first call allocates nothing in the store. Expired
// records are dropped as their shard is written and by a background
// sweeper, and a shard that falls below a quarter of its peak rebuilds its
// containers, so memory follows live records: after a burst of a million
// records is swept, under 1% of the peak heap stays
// (TestMemoryFollowsLiveRecords). Waiting duplicates are woken when a
// record changes, without polling.
//
// The store is bounded (Options.MaxRecords, Options.MaxBytes; by default a
// million records and 1 GiB): when full, a claim of a new key fails with
// an error matching ErrFull and idempotency.ErrStore, so the guard does
// not run fn (fail closed), while duplicates and completions go on.
//
// Records do
// not survive the process; for many processes use filestore, redisstore or
// pgstore.
package memstore
