package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/redis/go-redis/v9"
)

// Store is an idemtype.Store on Redis. It is safe for concurrent use by
// many goroutines and many processes sharing the Redis deployment.
type Store struct {
	client    redis.UniversalClient
	cluster   *redis.ClusterClient // nil unless client is one
	prefix    string
	pubCmd    string // "PUBLISH", "SPUBLISH" or "" (no notifications)
	tombstone string // milliseconds, as the scripts want it
	watch     watchers
}

var (
	_ idemtype.Store   = (*Store)(nil)
	_ idemtype.Watcher = (*Store)(nil)
	_ idemtype.Lister  = (*Store)(nil)
)

// New returns a Store keeping its records in client, which may be a
// *redis.Client (single node or Sentinel failover) or a
// *redis.ClusterClient. A nil opts means defaults. The Store does not own
// client: Close stops the Store's subscriptions, not the client.
func New(client redis.UniversalClient, opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Store{client: client, prefix: o.Prefix}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	s.cluster, _ = client.(*redis.ClusterClient)
	switch o.PubSub {
	case PubSubClassic:
		s.pubCmd = "PUBLISH"
	case PubSubSharded:
		s.pubCmd = "SPUBLISH"
	case PubSubOff:
	default:
		s.pubCmd = "PUBLISH"
		if s.cluster != nil {
			s.pubCmd = "SPUBLISH"
		}
	}
	tomb := o.Tombstone
	if tomb <= 0 {
		tomb = 10 * time.Second
	}
	s.tombstone = strconv.FormatInt(millis(tomb), 10)
	s.watch.init(s)
	return s
}

// Claim implements idemtype.Store in one round trip (one EVALSHA; the
// first call after the server lost its script cache adds one EVAL).
func (s *Store) Claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	takeover := "0"
	if req.Takeover {
		takeover = "1"
	}
	res, err := claimScript.Run(ctx, s.client, []string{s.name(req.Key)},
		req.Key, req.Fingerprint, max(millis(req.Lease), 1), millis(req.TTL), takeover, s.pubCmd).Slice()
	if err != nil {
		return idemtype.Claim{}, fmt.Errorf("idempotency: redisstore: claim: %w", err)
	}
	return decodeClaim(req, res)
}

// decodeClaim turns the claim script's reply into a Claim.
func decodeClaim(req idemtype.ClaimRequest, res []any) (idemtype.Claim, error) {
	if len(res) < 2 {
		return idemtype.Claim{}, corrupt(req.Key, "claim reply of %d elements", len(res))
	}
	code, _ := res[0].(string)
	now, ok := res[1].(int64)
	if !ok {
		return idemtype.Claim{}, corrupt(req.Key, "claim reply time %T", res[1])
	}
	switch code {
	case "a", "t":
		if len(res) < 3 {
			break
		}
		t, _ := res[2].(string)
		tok, err := strconv.ParseUint(t, 10, 64)
		if err != nil || tok == 0 {
			break
		}
		at := time.UnixMilli(now)
		rec := idemtype.Record{
			Key:         req.Key,
			Fingerprint: req.Fingerprint,
			Status:      idemtype.StatusInProgress,
			Token:       idemtype.Token(tok),
			LeaseUntil:  at.Add(time.Duration(max(millis(req.Lease), 1)) * time.Millisecond),
			CreatedAt:   at,
			UpdatedAt:   at,
		}
		if ttl := millis(req.TTL); ttl > 0 {
			rec.ExpiresAt = at.Add(time.Duration(ttl) * time.Millisecond)
		}
		if code == "a" {
			return idemtype.Claim{Acquired: true, Record: rec}, nil
		}
		if len(res) < 4 {
			break
		}
		c, _ := res[3].(string)
		created, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			break
		}
		rec.CreatedAt = time.UnixMilli(created)
		return idemtype.Claim{Acquired: true, TookOver: true, Record: rec}, nil
	case "e", "x":
		rec, err := decodeRecord(req.Key, res[2:])
		if err != nil {
			return idemtype.Claim{}, err
		}
		return idemtype.Claim{Record: rec, Abandoned: code == "x"}, nil
	case "c":
		return idemtype.Claim{}, corrupt(req.Key, "not a well-formed record")
	}
	return idemtype.Claim{}, corrupt(req.Key, "unexpected claim reply %q", res)
}

// Extend implements idemtype.Store in one round trip.
func (s *Store) Extend(ctx context.Context, key string, token idemtype.Token, lease time.Duration) error {
	return s.owned(ctx, "extend", key, extendScript, tokenArg(token), max(millis(lease), 1))
}

// Complete implements idemtype.Store in one round trip.
func (s *Store) Complete(ctx context.Context, key string, token idemtype.Token, out idemtype.Outcome) error {
	if out.Status != idemtype.StatusCompleted && out.Status != idemtype.StatusFailed {
		return fmt.Errorf("idempotency: redisstore: complete: invalid outcome status %d", out.Status)
	}
	return s.owned(ctx, "complete", key, completeScript, tokenArg(token), int(out.Status), out.Value, millis(out.TTL), s.pubCmd)
}

// Release implements idemtype.Store in one round trip.
func (s *Store) Release(ctx context.Context, key string, token idemtype.Token) error {
	return s.owned(ctx, "release", key, releaseScript, tokenArg(token), s.tombstone, s.pubCmd)
}

// owned runs a script that writes only if the token owns the in-progress
// record, and maps its reply.
func (s *Store) owned(ctx context.Context, op, key string, script *redis.Script, args ...any) error {
	n, err := script.Run(ctx, s.client, []string{s.name(key)}, append([]any{key}, args...)...).Int()
	switch {
	case err != nil:
		return fmt.Errorf("idempotency: redisstore: %s: %w", op, err)
	case n == 0:
		return idemtype.ErrLeaseLost
	case n < 0:
		return corrupt(key, "not a well-formed record")
	}
	return nil
}

func tokenArg(t idemtype.Token) string { return strconv.FormatUint(uint64(t), 10) }

// Get implements idemtype.Store with one HMGET.
func (s *Store) Get(ctx context.Context, key string) (idemtype.Record, error) {
	vals, err := s.client.HMGet(ctx, s.name(key), fields...).Result()
	if err != nil {
		if isWrongType(err) {
			return idemtype.Record{}, corrupt(key, "not a record hash")
		}
		return idemtype.Record{}, fmt.Errorf("idempotency: redisstore: get: %w", err)
	}
	if isAbsent(vals) || isTombstone(vals) {
		return idemtype.Record{}, idemtype.ErrNotFound
	}
	return decodeRecord(key, vals)
}

// Delete implements idemtype.Store in one round trip. It wakes watchers
// of the key.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := deleteScript.Run(ctx, s.client, []string{s.name(key)}, s.tombstone, s.pubCmd).Err(); err != nil {
		return fmt.Errorf("idempotency: redisstore: delete: %w", err)
	}
	return nil
}

// Close stops the Store's subscriptions and waits for their goroutines.
// It does not close the client. The Store's other methods keep working.
func (s *Store) Close() error {
	s.watch.close()
	return nil
}

func isWrongType(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && len(re.Error()) >= 9 && re.Error()[:9] == "WRONGTYPE"
}
