package redisstore

import "github.com/redis/go-redis/v9"

// The scripts touch exactly one key, KEYS[1], and publish on a channel of
// the same name, so every call stays within one hash slot of a Cluster.
// They read the server clock (TIME) themselves: leases and expiry are
// judged on one clock whatever the clients' clocks say. Redis 5+ replicates
// a script's effects, not the script, so TIME is safe here.
//
// A record is a hash: k key, f fingerprint, s status (1 in progress,
// 2 completed, 3 failed), t token, v value, l lease until, e expires at
// (0: never), c created, u updated; times in Unix milliseconds. A hash that
// holds only t is a tombstone left by Release and Delete: it keeps the last
// token for a while, so that a claim right after gets a larger one.
//
// Tokens are max(previous token + 1, server time in microseconds): larger
// than the previous token of the key while the record or its tombstone
// lives, and afterwards larger than any token issued before the tombstone
// was written, as long as the server clock does not step back.

// prelude is shared by all scripts: now (ms), nowus (µs) and fmt.
const prelude = `
local tm = redis.call('TIME')
local nowus = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
local now = math.floor(nowus / 1000)
local function fmt(n) return string.format('%.0f', n) end
local function publish(cmd, msg)
  if cmd ~= '' then redis.call(cmd, KEYS[1], msg) end
end
local function expire(e)
  if e > 0 then redis.call('PEXPIREAT', KEYS[1], fmt(e)) else redis.call('PERSIST', KEYS[1]) end
end
`

// claimScript: ARGV key, fingerprint, lease ms, ttl ms (0: none),
// takeover (1/0), publish command (empty: none).
// Replies {'a', now, token} acquired, {'t', now, token, created} taken
// over, {'e', now, k, f, s, t, v, l, e, c, u} existing record, {'x', ...}
// existing and abandoned, {'c', now} corrupt.
var claimScript = redis.NewScript(prelude + `
local r = redis.pcall('HMGET', KEYS[1], 'k', 'f', 's', 't', 'v', 'l', 'e', 'c', 'u')
if r.err then return {'c', now} end
local prev = 0
local ttl = tonumber(ARGV[4])
local e = 0
if ttl > 0 then e = now + ttl end
local lease = now + tonumber(ARGV[3])
if r[3] then
  local tok = tonumber(r[4])
  local lu = tonumber(r[6])
  local s = r[3]
  if r[1] ~= ARGV[1] or not tok or not lu or (s ~= '1' and s ~= '2' and s ~= '3') or not r[2] or not r[5] then
    return {'c', now}
  end
  for i = 7, 9 do
    if not tonumber(r[i]) then return {'c', now} end
  end
  if s ~= '1' or lu > now then
    return {'e', now, r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]}
  end
  if ARGV[5] ~= '1' or r[2] ~= ARGV[2] then
    return {'x', now, r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]}
  end
  local t = fmt(math.max(tok + 1, nowus))
  redis.call('HSET', KEYS[1], 't', t, 'l', fmt(lease), 'e', fmt(e), 'u', fmt(now))
  expire(e)
  publish(ARGV[6], '1')
  return {'t', now, t, r[8]}
end
if r[4] then
  prev = tonumber(r[4])
  if not prev then return {'c', now} end
end
local t = fmt(math.max(prev + 1, nowus))
redis.call('HSET', KEYS[1], 'k', ARGV[1], 'f', ARGV[2], 's', '1', 't', t, 'v', '',
  'l', fmt(lease), 'e', fmt(e), 'c', fmt(now), 'u', fmt(now))
expire(e)
return {'a', now, t}
`)

// ownedCheck returns 0 from the script unless token ARGV[2] owns an
// in-progress record of key ARGV[1], and -1 for anything that is not a
// well-formed record of that key, so that writes never touch it.
const ownedCheck = `
local r = redis.pcall('HMGET', KEYS[1], 'k', 's', 't', 'l', 'e', 'c', 'u')
if r.err then return -1 end
if not r[1] and not r[2] then return 0 end
if r[1] ~= ARGV[1] or (r[2] ~= '1' and r[2] ~= '2' and r[2] ~= '3') then return -1 end
for i = 3, 7 do
  if not tonumber(r[i]) then return -1 end
end
if r[2] ~= '1' or r[3] ~= ARGV[2] then return 0 end
`

// extendScript: ARGV key, token, lease ms. Replies 1 done, 0 not the owner,
// -1 corrupt.
var extendScript = redis.NewScript(prelude + ownedCheck + `
redis.call('HSET', KEYS[1], 'l', fmt(now + tonumber(ARGV[3])), 'u', fmt(now))
return 1
`)

// completeScript: ARGV key, token, status, value, ttl ms (0: none),
// publish command.
var completeScript = redis.NewScript(prelude + ownedCheck + `
local ttl = tonumber(ARGV[5])
local e = 0
if ttl > 0 then e = now + ttl end
redis.call('HSET', KEYS[1], 's', ARGV[3], 'v', ARGV[4], 'e', fmt(e), 'u', fmt(now))
expire(e)
publish(ARGV[6], ARGV[3])
return 1
`)

// releaseScript: ARGV key, token, tombstone ms, publish command.
var releaseScript = redis.NewScript(prelude + ownedCheck + `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 't', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
publish(ARGV[4], '0')
return 1
`)

// deleteScript: ARGV tombstone ms, publish command. Forgets whatever the
// key holds, corrupt values included, keeping the last token if any.
var deleteScript = redis.NewScript(prelude + `
local t = redis.pcall('HGET', KEYS[1], 't')
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
if type(t) == 'string' and tonumber(t) then
  redis.call('HSET', KEYS[1], 't', t)
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
publish(ARGV[2], '0')
return 1
`)
