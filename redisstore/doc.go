// Package redisstore keeps idempotency records in Redis (go-redis v9): a
// single node, a Sentinel-managed failover group or a Cluster, for guards
// running on many servers.
//
// Every Store operation is one round trip: Claim, Extend, Complete,
// Release, Delete and Get are Lua scripts run with EVALSHA (EVAL once when
// the server does not know the script yet). A first call
// through a guard therefore costs two round trips (claim, complete) and a
// duplicate one. Leases and expiry are judged on the Redis server's clock
// (TIME inside the scripts), every write checks the caller's token
// (fencing), and records expire through Redis's own key expiry, so there
// is nothing to sweep. As [idemtype.Live] says, a record is gone at its
// ExpiresAt: the scripts set the key to expire one millisecond before
// (Redis deletes a key once that time has passed), and treat a record at
// its expiry as absent themselves. While most claims are duplicates of
// finished calls, a claim reads first with plain commands and runs no
// script for them (see [Options.ReadFirst]).
//
// Each record is one hash under Options.Prefix + "{" +
// base64url(SHA-256(key)) + "}": any key bytes are safe, no two keys share
// a record, raw keys never appear in Redis key names (the full key is kept
// inside the record for Get and List), and each script touches one hash
// slot, so the store works on Redis Cluster unchanged.
//
// Waiting duplicates are woken by pub/sub (sharded pub/sub on a Cluster)
// from inside the scripts; a Store multiplexes all its waiters onto one
// subscription connection (one per master on a Cluster). Close stops it.
//
// go-redis sends a command again after a network error (MaxRetries), so a
// script may run twice for one call: each Claim, Complete, Release and
// Delete carries a nonce kept in the record, and a script that finds its
// own nonce answers as its first run did. A re-sent claim acquires its own
// record; a re-sent completion or release succeeds; a re-sent Delete never
// forgets a claim made after it ran.
//
// At maxmemory (noeviction), new claims and takeovers fail with an error
// matching [idemtype.ErrFull] (and so idemtype.ErrStore) that quotes
// Redis's OOM reply (the guard reports ErrStore and does not run fn), while an
// execution already claimed still records its outcome: the scripts that
// settle a claim may take Redis past maxmemory.
//
// Failures are [*idemtype.OpError] values (Store "redisstore", the
// operation: claim, complete, release, extend, get, delete, list, watch,
// load scripts; the user's key in Key, never in the message), and corrupt
// records [*idemtype.CorruptError] values whose Path is the record's Redis
// key; they match [idemtype.ErrCorrupt]. The contract's replies
// (ErrLeaseLost, ErrNotFound) and the context's errors are returned bare.
// Watch on a Store with notifications off returns an error matching
// [ErrNoPubSub] and errors.ErrUnsupported. Options.Validate refuses a Prefix with braces unless
// Options.AllowHashTagPrefix is set.
//
// Redis 7.0 or later is required. See the README for the Redis
// configuration the guarantees need (appendfsync always) and what failover
// can cost.
package redisstore
