// Package redisstore keeps idempotency records in Redis (go-redis v9): a
// single node, a Sentinel-managed failover group or a Cluster, for guards
// running on many servers.
//
// Every Store operation is one round trip: Claim, Extend, Complete,
// Release and Delete are Lua scripts run with EVALSHA (EVAL once when the
// server does not know the script yet), and Get is one HMGET. A first call
// through a guard therefore costs two round trips (claim, complete) and a
// duplicate one. Leases and expiry are judged on the Redis server's clock
// (TIME inside the scripts), every write checks the caller's token
// (fencing), and records expire through Redis's own key expiry, so there
// is nothing to sweep.
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
// script may run twice for one call: each Claim, Complete and Release
// carries a nonce kept in the record, and a script that finds its own
// nonce answers as its first run did. A re-sent claim acquires its own
// record; a re-sent completion or release succeeds.
//
// At maxmemory (noeviction), new claims and takeovers fail with an OOM
// error (the guard reports ErrStore and does not run fn), while an
// execution already claimed still records its outcome: the scripts that
// settle a claim may take Redis past maxmemory.
//
// Errors name the operation (claim, complete, release, extend, get,
// delete, list, watch, load scripts) and the record's Redis key, not the
// user's key. Options.Validate refuses a Prefix with braces unless
// Options.AllowHashTagPrefix is set.
//
// Redis 7.0 or later is required. See the README for the Redis
// configuration the guarantees need (appendfsync always) and what failover
// can cost.
package redisstore
