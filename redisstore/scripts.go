package redisstore

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// script is a Lua script with its source and SHA1 kept as interface
// values, so that sending them allocates nothing.
type script struct {
	*redis.Script
	src, hash any
}

func newScript(src string) *script {
	s := redis.NewScript(src)
	return &script{Script: s, src: src, hash: s.Hash()}
}

// run sends the script as cmd, made by newCmd from args, whose first four
// elements run fills in: EVALSHA, the SHA1, one key, the key's name. When
// the server does not know the script (NOSCRIPT), it is sent once more
// with EVAL and its source. Like redis.Script.Run, but the reply is read
// by the command type the caller chooses (strings or an integer, not
// interface values) and nothing is allocated for the script itself.
func run[C redis.Cmder](ctx context.Context, c redis.UniversalClient, sc *script, name string,
	newCmd func(context.Context, ...any) C, args []any) C {
	args[0], args[1], args[2], args[3] = "evalsha", sc.hash, 1, name
	cmd := newCmd(ctx, args...)
	cmd.SetFirstKeyPos(3)
	_ = c.Process(ctx, cmd)
	if err := cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		args[0], args[1] = "eval", sc.src
		cmd = newCmd(ctx, args...)
		cmd.SetFirstKeyPos(3)
		_ = c.Process(ctx, cmd)
	}
	return cmd
}

// The scripts touch exactly one key, KEYS[1], and publish on a channel of
// the same name, so every call stays within one hash slot of a Cluster.
// They read the server clock (TIME) themselves: leases and expiry are
// judged on one clock whatever the clients' clocks say. Redis 5+ replicates
// a script's effects, not the script, so TIME is safe here.
//
// A record is a hash: k key, f fingerprint, s status (1 in progress,
// 2 completed, 3 failed), t token, v value, l lease until, e expires at
// (0: never), c created, u updated; times in Unix milliseconds. A hash that
// holds only t (and r) is a tombstone left by Release and Delete: it keeps
// the last token for a while, so that a claim right after gets a larger one.
//
// Expiry follows idemtype's rule: a record is gone AT its expires_at. Redis
// expires a key (PEXPIREAT) only once its time has passed, so the scripts
// set the key's expiry one millisecond before e (see expire), and the
// scripts and Get still treat a record whose e is at or before the server
// time as absent themselves, whatever the key's expiry says.
//
// Tokens are max(previous token + 1, server time in microseconds): larger
// than the previous token of the key while the record or its tombstone
// lives, and afterwards larger than any token issued before the tombstone
// was written, as long as the server clock does not step back.
//
// Re-sent requests. go-redis sends a command again when the connection
// fails before the reply arrived (Options.MaxRetries), although the server
// may have run it: every script must give the same answer when it runs a
// second time for the same request. Each Claim, Complete and Release call
// carries a nonce, unique per call, and the write it makes keeps it: n is
// "a" or "t" (acquired, taken over) or "c" (completed) followed by the
// nonce of the claim or completion that last changed the record, and r the
// nonce of the release that last freed the key (kept by the tombstone and
// by the records claimed after it, until the key is freed again), and d
// the nonce of the last Delete (kept by its tombstone, the records claimed
// after it and their releases). A script that finds its own nonce answers
// as the first run did, writing nothing: a re-sent Delete never forgets a
// claim made after it ran. Extend gives the same result when run twice as
// it is.
//
// Memory. The scripts that settle a claim (extend, complete, release) and
// delete are flagged allow-oom: at maxmemory (noeviction) they still
// write, so an execution that was allowed to start can always record its
// outcome. The claim script has no flags: Redis refuses its first write
// when the server was out of memory as it started (a new or taken-over
// claim fails with an OOM error and fn does not run), while duplicates,
// which only read, are still answered.

// helpers are shared by all scripts: clock returns the server time in ms
// and µs; fmt formats a number as an integer.
const helpers = `
local function clock()
  local tm = redis.call('TIME')
  local us = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
  return math.floor(us / 1000), us
end
local function fmt(n) return string.format('%.0f', n) end
local function publish(cmd, msg)
  if cmd ~= '' then redis.call(cmd, KEYS[1], msg) end
end
-- gone: idemtype.Live's rule for a record expiring at e (ms; 0 never) at
-- now: at e itself the record is gone.
local function gone(e, now) return e > 0 and e <= now end
-- expire makes the key vanish at e (ms; 0 never), now being the
-- script's time. Redis removes a key once the time set has passed, so the
-- key is set to expire at e - 1: gone at e, and a plain read (see
-- readFinished) that finds the key finds it live. Redis 7.0 deletes a key
-- at once when PEXPIREAT is not after its clock as the command runs,
-- which may have passed the script's now: within a second of e, the clock
-- is read again and e - 1 set only while it is more than a millisecond
-- ahead, since the millisecond may change in the microseconds between
-- that reading and PEXPIREAT. Otherwise (a TTL of a millisecond or two,
-- or a script that ran that long) the key keeps e itself, and such a
-- record is left to the scripts.
local function expire(e, now)
  if e <= 0 then
    redis.call('PERSIST', KEYS[1])
    return
  end
  local at = e - 1
  if at - now < 1000 and at <= clock() + 1 then at = e end
  redis.call('PEXPIREAT', KEYS[1], fmt(at))
end
`

// prelude starts the scripts that always need the time: now (ms) and
// nowus (µs).
const prelude = helpers + `
local now, nowus = clock()
`

// allowOOM flags a script so that Redis runs it even at maxmemory.
const allowOOM = "#!lua flags=allow-oom\n"

// claimScript: ARGV key, fingerprint, lease ms, ttl ms (0: none),
// takeover (1/0), publish command (empty: none), nonce.
// Replies {'a', token, created, updated, lease, expires} acquired ('t':
// taken over), {'e', f, v, 's t l e c u'} the existing record of the key
// (its numbers in one string: fewer, smaller replies; the key is checked
// here and not sent back), {'x', ...} existing and abandoned, {'c'}
// corrupt; read as strings.
var claimScript = newScript(helpers + `
local r = redis.pcall('HMGET', KEYS[1], 'k', 'f', 's', 't', 'v', 'l', 'e', 'c', 'u', 'n')
if r.err then return {'c'} end
local prev = 0
local now, nowus
if r[3] then
  local tok = tonumber(r[4])
  local lu = tonumber(r[6])
  local s = r[3]
  if r[1] ~= ARGV[1] or not tok or not lu or (s ~= '1' and s ~= '2' and s ~= '3') or not r[2] or not r[5] then
    return {'c'}
  end
  for i = 7, 9 do
    if not tonumber(r[i]) then return {'c'} end
  end
  local ex = tonumber(r[7])
  -- A record never expiring and in progress needs no clock either way.
  if ex > 0 or s == '1' then now, nowus = clock() end
  if not gone(ex, now) then
    local function found(code)
      return {code, r[2], r[5], r[3] .. ' ' .. r[4] .. ' ' .. r[6] .. ' ' .. r[7] .. ' ' .. r[8] .. ' ' .. r[9]}
    end
    if s ~= '1' then
      return found('e')
    end
    if r[10] and string.sub(r[10], 2) == ARGV[7] then
      return {string.sub(r[10], 1, 1), r[4], r[8], r[9], r[6], r[7]}
    end
    if lu > now then
      return found('e')
    end
    if ARGV[5] ~= '1' or r[2] ~= ARGV[2] then
      return found('x')
    end
    local ttl = tonumber(ARGV[4])
    local e = 0
    if ttl > 0 then e = now + ttl end
    local lease = now + tonumber(ARGV[3])
    local t = fmt(math.max(tok + 1, nowus))
    redis.call('HSET', KEYS[1], 't', t, 'l', fmt(lease), 'e', fmt(e), 'u', fmt(now), 'n', 't' .. ARGV[7])
    expire(e, now)
    publish(ARGV[6], '1')
    return {'t', t, r[8], now, lease, e}
  end
  -- Expired at its expires_at, though Redis may still keep it until
  -- the millisecond after (see expire): absent, but its token still
  -- orders the next.
  prev = tok
elseif r[4] then
  prev = tonumber(r[4])
  if not prev then return {'c'} end
end
if not now then now, nowus = clock() end
local ttl = tonumber(ARGV[4])
local e = 0
if ttl > 0 then e = now + ttl end
local lease = now + tonumber(ARGV[3])
local t = fmt(math.max(prev + 1, nowus))
redis.call('HSET', KEYS[1], 'k', ARGV[1], 'f', ARGV[2], 's', '1', 't', t, 'v', '',
  'l', fmt(lease), 'e', fmt(e), 'c', fmt(now), 'u', fmt(now), 'n', 'a' .. ARGV[7])
expire(e, now)
return {'a', t, now, now, lease, e}
`)

// getScript: no ARGV. Replies the record's fields k f s t v l e c u (nil
// when missing) and the server time in ms, or -1 when the key holds no
// hash. It reads only, so it runs at maxmemory and on replicas.
var getScript = newScript("#!lua flags=no-writes,allow-oom\n" + helpers + `
local r = redis.pcall('HMGET', KEYS[1], 'k', 'f', 's', 't', 'v', 'l', 'e', 'c', 'u')
if r.err then return -1 end
r[10] = clock()
return r
`)

// ownedCheck returns from the script: 1 when done(r) says this very
// request ran before, -1 for anything that is not a well-formed record of
// key ARGV[1], so that writes never touch it, and 0 unless token ARGV[2]
// owns an in-progress record. Each script defines done first.
const ownedCheck = `
local r = redis.pcall('HMGET', KEYS[1], 'k', 's', 't', 'l', 'e', 'c', 'u', 'n', 'r')
if r.err then return -1 end
if done(r) then return 1 end
if not r[1] and not r[2] then return 0 end
if r[1] ~= ARGV[1] or (r[2] ~= '1' and r[2] ~= '2' and r[2] ~= '3') then return -1 end
for i = 3, 7 do
  if not tonumber(r[i]) then return -1 end
end
if r[2] ~= '1' or r[3] ~= ARGV[2] then return 0 end
if gone(tonumber(r[5]), now) then return 0 end
`

// extendScript: ARGV key, token, lease ms. Replies 1 done, 0 not the owner,
// -1 corrupt. Running it twice extends twice, which is harmless.
var extendScript = newScript(allowOOM + prelude + `
local function done(r) return false end
` + ownedCheck + `
redis.call('HSET', KEYS[1], 'l', fmt(now + tonumber(ARGV[3])), 'u', fmt(now))
return 1
`)

// completeScript: ARGV key, token, nonce, status, value, ttl ms (0: none),
// publish command.
var completeScript = newScript(allowOOM + prelude + `
local function done(r) return r[3] == ARGV[2] and r[8] == 'c' .. ARGV[3] end
` + ownedCheck + `
local ttl = tonumber(ARGV[6])
local e = 0
if ttl > 0 then e = now + ttl end
redis.call('HSET', KEYS[1], 's', ARGV[4], 'v', ARGV[5], 'e', fmt(e), 'u', fmt(now), 'n', 'c' .. ARGV[3])
expire(e, now)
publish(ARGV[7], ARGV[4])
return 1
`)

// releaseScript: ARGV key, token, nonce, tombstone ms, publish command.
var releaseScript = newScript(allowOOM + prelude + `
local function done(r) return r[9] == ARGV[3] end
` + ownedCheck + `
local d = redis.call('HGET', KEYS[1], 'd')
redis.call('DEL', KEYS[1])
if d then
  redis.call('HSET', KEYS[1], 't', ARGV[2], 'r', ARGV[3], 'd', d)
else
  redis.call('HSET', KEYS[1], 't', ARGV[2], 'r', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
publish(ARGV[5], '0')
return 1
`)

// deleteScript: ARGV tombstone ms, publish command, nonce. Forgets
// whatever the key holds, corrupt values included, keeping the last token
// and release nonce if any, and leaves its own nonce as d (on an absent
// key too): a re-sent Delete that finds it ran before, even if a new claim
// took the key meanwhile, which keeps d, and does nothing.
var deleteScript = newScript(allowOOM + prelude + `
local old = redis.pcall('HMGET', KEYS[1], 't', 'r', 'd')
if not old.err and old[3] == ARGV[3] then return 1 end
local n = redis.call('DEL', KEYS[1])
local keep = {'d', ARGV[3]}
if not old.err then
  if old[1] and tonumber(old[1]) then keep[#keep+1] = 't'; keep[#keep+1] = old[1] end
  if old[2] then keep[#keep+1] = 'r'; keep[#keep+1] = old[2] end
end
redis.call('HSET', KEYS[1], unpack(keep))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if n == 0 then return 0 end
publish(ARGV[2], '0')
return 1
`)
