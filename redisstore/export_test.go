package redisstore

// GoneScript runs the scripts' expiry rule: ARGV expires at, now (ms);
// replies 1 when the record is gone.
var GoneScript = helpers + `return gone(tonumber(ARGV[1]), tonumber(ARGV[2])) and 1 or 0`

// StalledExpireScript writes a record to KEYS[1] as the scripts do, with
// a TTL of ARGV[1] ms from the script's now, but runs on until the
// server's clock reaches expires_at - 1 before it sets the key's expiry,
// as a script that Redis ran slowly would. Replies whether the key still
// exists, and expires_at and the clock afterwards (ms).
var StalledExpireScript = helpers + `
local now = clock()
local e = now + tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 's', '2', 'e', fmt(e))
while clock() < e - 1 do end
expire(e, now)
return {redis.call('EXISTS', KEYS[1]), e, clock()}
`

// BoundaryExpireScript writes a record to KEYS[1] as the scripts do, with
// a TTL of ARGV[1] ms from the script's now, and sets the key's expiry
// once the server's clock is within ARGV[2] µs of the millisecond
// expires_at - 1, so that the millisecond may change between expire's
// reading of the clock and its PEXPIREAT. Replies whether the key still
// exists, and expires_at and the clock afterwards (ms).
var BoundaryExpireScript = helpers + `
local now = clock()
local e = now + tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 's', '2', 'e', fmt(e))
local _, us = clock()
while us < (e - 1) * 1000 - tonumber(ARGV[2]) do _, us = clock() end
expire(e, now)
return {redis.call('EXISTS', KEYS[1]), e, clock()}
`
