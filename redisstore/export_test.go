package redisstore

// GoneScript runs the scripts' expiry rule: ARGV expires at, now (ms);
// replies 1 when the record is gone.
var GoneScript = helpers + `return gone(tonumber(ARGV[1]), tonumber(ARGV[2])) and 1 or 0`
