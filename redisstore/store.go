package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
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

	nonceBase string        // random, per Store
	nonceSeq  atomic.Uint64 // counts the Store's nonces
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
//
// New panics with the error of [Options.Validate] when opts are invalid;
// call Validate first to handle it instead.
func New(client redis.UniversalClient, opts *Options) *Store {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	var seed [12]byte
	_, _ = rand.Read(seed[:]) // never fails (crypto/rand)
	s := &Store{client: client, prefix: o.Prefix, nonceBase: base64.RawURLEncoding.EncodeToString(seed[:])}
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
	name := s.name(req.Key)
	res, err := claimScript.Run(ctx, s.client, []string{name},
		req.Key, req.Fingerprint, max(millis(req.Lease), 1), millis(req.TTL), takeover, s.pubCmd, s.nonce()).Slice()
	if err != nil {
		return idemtype.Claim{}, opErr("claim", name, err)
	}
	cl, err := decodeClaim(req, res)
	if err != nil {
		return idemtype.Claim{}, opErr("claim", name, err)
	}
	return cl, nil
}

// nonce returns a string no other call of any Store uses: the scripts
// keep it in the record they write, to recognise a request that go-redis
// sent again after losing its reply.
func (s *Store) nonce() string {
	b := make([]byte, 0, len(s.nonceBase)+13)
	b = append(b, s.nonceBase...)
	return string(strconv.AppendUint(b, s.nonceSeq.Add(1), 36))
}

// decodeClaim turns the claim script's reply into a Claim.
func decodeClaim(req idemtype.ClaimRequest, res []any) (idemtype.Claim, error) {
	if len(res) < 2 {
		return idemtype.Claim{}, errCorrupt("claim reply of %d elements", len(res))
	}
	code, _ := res[0].(string)
	if _, ok := res[1].(int64); !ok {
		return idemtype.Claim{}, errCorrupt("claim reply time %T", res[1])
	}
	switch code {
	case "a", "t":
		if len(res) != 7 {
			break
		}
		t, _ := res[2].(string)
		tok, err := strconv.ParseUint(t, 10, 64)
		if err != nil || tok == 0 {
			break
		}
		ms, ok := millisAt(res[3:])
		if !ok {
			break
		}
		rec := idemtype.Record{
			Key:         req.Key,
			Fingerprint: req.Fingerprint,
			Status:      idemtype.StatusInProgress,
			Token:       idemtype.Token(tok),
			CreatedAt:   time.UnixMilli(ms[0]),
			UpdatedAt:   time.UnixMilli(ms[1]),
			LeaseUntil:  time.UnixMilli(ms[2]),
		}
		if ms[3] > 0 {
			rec.ExpiresAt = time.UnixMilli(ms[3])
		}
		return idemtype.Claim{Acquired: true, TookOver: code == "t", Record: rec}, nil
	case "e", "x":
		rec, err := decodeRecord(req.Key, res[2:])
		if err != nil {
			return idemtype.Claim{}, err
		}
		return idemtype.Claim{Record: rec, Abandoned: code == "x"}, nil
	case "c":
		return idemtype.Claim{}, errCorrupt("not a well-formed record")
	}
	return idemtype.Claim{}, errCorrupt("unexpected claim reply %q", res)
}

// Extend implements idemtype.Store in one round trip.
func (s *Store) Extend(ctx context.Context, key string, token idemtype.Token, lease time.Duration) error {
	return s.owned(ctx, "extend", key, extendScript, tokenArg(token), max(millis(lease), 1))
}

// Complete implements idemtype.Store in one round trip.
func (s *Store) Complete(ctx context.Context, key string, token idemtype.Token, out idemtype.Outcome) error {
	if out.Status != idemtype.StatusCompleted && out.Status != idemtype.StatusFailed {
		return opErr("complete", s.name(key), fmt.Errorf("invalid outcome status %d", out.Status))
	}
	return s.owned(ctx, "complete", key, completeScript, tokenArg(token), s.nonce(), int(out.Status), out.Value, millis(out.TTL), s.pubCmd)
}

// Release implements idemtype.Store in one round trip.
func (s *Store) Release(ctx context.Context, key string, token idemtype.Token) error {
	return s.owned(ctx, "release", key, releaseScript, tokenArg(token), s.nonce(), s.tombstone, s.pubCmd)
}

// owned runs a script that writes only if the token owns the in-progress
// record, and maps its reply.
func (s *Store) owned(ctx context.Context, op, key string, script *redis.Script, args ...any) error {
	name := s.name(key)
	n, err := script.Run(ctx, s.client, []string{name}, append([]any{key}, args...)...).Int()
	switch {
	case err != nil:
		return opErr(op, name, err)
	case n == 0:
		return opErr(op, name, idemtype.ErrLeaseLost)
	case n < 0:
		return opErr(op, name, errCorrupt("not a well-formed record"))
	}
	return nil
}

// millisAt reads the created, updated, lease and expiry times (Unix ms,
// none negative) of an acquiring claim reply.
func millisAt(res []any) (ms [4]int64, ok bool) {
	for i := range ms {
		if ms[i], ok = res[i].(int64); !ok || ms[i] < 0 {
			return ms, false
		}
	}
	return ms, true
}

func tokenArg(t idemtype.Token) string { return strconv.FormatUint(uint64(t), 10) }

// Get implements idemtype.Store with one HMGET.
func (s *Store) Get(ctx context.Context, key string) (idemtype.Record, error) {
	name := s.name(key)
	vals, err := s.client.HMGet(ctx, name, fields...).Result()
	if err != nil {
		if isWrongType(err) {
			return idemtype.Record{}, opErr("get", name, errCorrupt("not a record hash"))
		}
		return idemtype.Record{}, opErr("get", name, err)
	}
	if isAbsent(vals) || isTombstone(vals) {
		return idemtype.Record{}, idemtype.ErrNotFound
	}
	rec, err := decodeRecord(key, vals)
	if err != nil {
		return idemtype.Record{}, opErr("get", name, err)
	}
	return rec, nil
}

// Delete implements idemtype.Store in one round trip. It wakes watchers
// of the key.
func (s *Store) Delete(ctx context.Context, key string) error {
	name := s.name(key)
	if err := deleteScript.Run(ctx, s.client, []string{name}, s.tombstone, s.pubCmd).Err(); err != nil {
		return opErr("delete", name, err)
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
