package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/redis/go-redis/v9"
)

// fieldArgs are fields as command arguments, boxed once.
var fieldArgs = func() (a [9]any) {
	for i, f := range fields {
		a[i] = f
	}
	return a
}()

// readFinished reads the record at name with plain commands, no script,
// in one round trip: HMGET of its fields and PEXPIRETIME of the key. ok
// says the record is finished (completed or failed) and was live when
// read, so that it is the claim's answer; anything else (no record, one
// in progress, a tombstone, a corrupt hash or a value that is no hash, a
// key whose expiry the scripts did not set) is left to the claim script,
// which judges it on the server's clock.
//
// Liveness without a clock: the scripts set a key to expire one
// millisecond before the record's expires_at e (see expire in the
// scripts), and Redis removes a key as soon as that time has passed. A key
// that HMGET still found, whose expiry PEXPIRETIME reads back as e - 1,
// was therefore read before e. A record that never expires needs no
// check.
func (s *Store) readFinished(ctx context.Context, name, key string) (rec idemtype.Record, ok bool, err error) {
	args := make([]any, 2+len(fields)+2)
	args[0], args[1] = "hmget", name
	copy(args[2:], fieldArgs[:])
	vals := redis.NewSliceCmd(ctx, args[:2+len(fields)]...)
	exp := redis.NewIntCmd(ctx, append(args[2+len(fields):2+len(fields)], "pexpiretime", args[1])...)
	p := s.pipes.Get().(redis.Pipeliner)
	_ = p.BatchProcess(ctx, vals, exp)
	_, err = p.Exec(ctx)
	s.pipes.Put(p) // Exec leaves it empty, whatever happened
	if err != nil {
		var re redis.Error
		if errors.As(err, &re) {
			// A reply of the server (WRONGTYPE: the name holds no hash):
			// the claim script judges the key, and reports it corrupt.
			return idemtype.Record{}, false, nil
		}
		return idemtype.Record{}, false, err
	}
	v := vals.Val()
	if st, _ := v[2].(string); st != "2" && st != "3" {
		return idemtype.Record{}, false, nil
	}
	if rec, err = decodeHash(key, v); err != nil {
		return idemtype.Record{}, false, nil // the claim script reports it
	}
	if !rec.ExpiresAt.IsZero() && exp.Val() != rec.ExpiresAt.Add(-time.Millisecond).UnixMilli() {
		return idemtype.Record{}, false, nil
	}
	return rec, true, nil
}
