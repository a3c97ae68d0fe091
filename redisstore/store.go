package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/redis/go-redis/v9"
)

// Store is an idemtype.Store on Redis. It is safe for concurrent use by
// many goroutines and many processes sharing the Redis deployment.
type Store struct {
	client  redis.UniversalClient
	cluster *redis.ClusterClient // nil unless client is one
	prefix  string
	pubCmd  string // "PUBLISH", "SPUBLISH" or "" (no notifications)
	pubArg  any    // pubCmd, boxed once for the scripts' arguments
	tombArg any    // Options.Tombstone in milliseconds, as the scripts want it
	watch   watchers
	life    idemtype.Lifecycle

	nonceBase string        // random, per Store
	nonceSeq  atomic.Uint64 // counts the Store's nonces

	readFirst idemtype.ReadFirst     // Options.ReadFirst
	dups      idemtype.DuplicateRate // of the Store's claims, for ReadFirstAuto
	pipes     sync.Pool              // of redis.Pipeliner, for readFinished
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
	s := &Store{client: client, prefix: o.Prefix, nonceBase: base64.RawURLEncoding.EncodeToString(seed[:]), readFirst: o.ReadFirst}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	s.cluster, _ = client.(*redis.ClusterClient)
	if s.cluster != nil && s.cluster.Options().ReadOnly {
		// go-redis sends read-only commands to replicas (ReadOnly, also
		// set by RouteByLatency and RouteRandomly): a replica may still
		// hold a record the primary has deleted.
		s.readFirst = idemtype.ReadFirstNever
	}
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
	s.tombArg = strconv.FormatInt(millis(tomb), 10)
	s.pubArg = s.pubCmd
	s.watch.init(s)
	s.pipes.New = func() any { return client.Pipeline() }
	return s
}

// Claim implements idemtype.Store in one round trip (one EVALSHA; the
// first call after the server lost its script cache adds one EVAL). When
// it reads first (see [Options.ReadFirst]), a duplicate of a finished
// call is answered by plain reads in one round trip and runs no script;
// any other claim takes one round trip more.
func (s *Store) Claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	if err := s.usable("claim", req.Key); err != nil {
		return idemtype.Claim{}, err
	}
	name := s.name(req.Key)
	read := s.dups.ReadFirst(s.readFirst)
	if read {
		rec, ok, err := s.readFinished(ctx, name, req.Key)
		if err != nil {
			return idemtype.Claim{}, s.opErr("claim", req.Key, err)
		}
		if ok {
			s.dups.Observe(true)
			return idemtype.Claim{Record: rec}, nil
		}
	}
	takeover := "0"
	if req.Takeover {
		takeover = "1"
	}
	res, err := run(ctx, s.client, claimScript, name, redis.NewStringSliceCmd, []any{4: req.Key, req.Fingerprint,
		max(millis(req.Lease), 1), millis(req.TTL), takeover, s.pubArg, s.nonce()}).Result()
	if err != nil {
		return idemtype.Claim{}, s.opErr("claim", req.Key, err)
	}
	cl, err := decodeClaim(req, res)
	if err != nil {
		return idemtype.Claim{}, s.opErr("claim", req.Key, err)
	}
	s.dups.ObserveClaimAfter(read, cl)
	return cl, nil
}

// nonce returns a string no other call of any Store uses: the scripts
// keep it in the record they write, to recognise a request that go-redis
// sent again after losing its reply.
func (s *Store) nonce() string {
	var seq [13]byte // a uint64 in base 36
	n := strconv.AppendUint(seq[:0], s.nonceSeq.Add(1), 36)
	var b strings.Builder // one allocation: the string itself
	b.Grow(len(s.nonceBase) + len(n))
	b.WriteString(s.nonceBase)
	b.Write(n)
	return b.String()
}

// decodeClaim turns the claim script's reply into a Claim.
func decodeClaim(req idemtype.ClaimRequest, res []string) (idemtype.Claim, error) {
	if len(res) == 0 {
		return idemtype.Claim{}, errCorrupt("empty claim reply")
	}
	switch code := res[0]; code {
	case "a", "t":
		if len(res) != 6 {
			break
		}
		tok, err := strconv.ParseUint(res[1], 10, 64)
		if err != nil || tok == 0 {
			break
		}
		var ms [4]int64 // created, updated, lease, expires
		for i := range ms {
			if ms[i], err = strconv.ParseInt(res[2+i], 10, 64); err != nil || ms[i] < 0 {
				return idemtype.Claim{}, errCorrupt("claim reply %q", res)
			}
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
		if len(res) != 4 {
			break
		}
		// k f s t v l e c u, from f, v and "s t l e c u"
		f := [9]string{0: req.Key, 1: res[1], 4: res[2]}
		rest := res[3]
		for _, i := range [...]int{2, 3, 5, 6, 7} {
			var ok bool
			if f[i], rest, ok = strings.Cut(rest, " "); !ok {
				return idemtype.Claim{}, errCorrupt("claim reply %q", res)
			}
		}
		f[8] = rest
		rec, err := decodeRecord(req.Key, f[:])
		if err != nil {
			return idemtype.Claim{}, err
		}
		return idemtype.Claim{Record: rec, Abandoned: code == "x"}, nil
	case "c":
		return idemtype.Claim{}, errCorrupt("not a well-formed record")
	}
	return idemtype.Claim{}, errCorrupt("claim reply %q", res)
}

// Extend implements idemtype.Store in one round trip.
func (s *Store) Extend(ctx context.Context, key string, token idemtype.Token, lease time.Duration) error {
	return s.owned(ctx, "extend", key, extendScript, []any{4: key, uint64(token), max(millis(lease), 1)})
}

// Complete implements idemtype.Store in one round trip.
func (s *Store) Complete(ctx context.Context, key string, token idemtype.Token, out idemtype.Outcome) error {
	if err := s.usable("complete", key); err != nil {
		return err
	}
	if err := idemtype.CheckOutcome(out); err != nil {
		return s.opErr("complete", key, err)
	}
	return s.owned(ctx, "complete", key, completeScript,
		[]any{4: key, uint64(token), s.nonce(), int(out.Status), out.Value, millis(out.TTL), s.pubArg})
}

// Release implements idemtype.Store in one round trip.
func (s *Store) Release(ctx context.Context, key string, token idemtype.Token) error {
	return s.owned(ctx, "release", key, releaseScript, []any{4: key, uint64(token), s.nonce(), s.tombArg, s.pubArg})
}

// owned runs a script that writes only if the token owns the in-progress
// record, and maps its reply. args leave four elements for run.
func (s *Store) owned(ctx context.Context, op, key string, sc *script, args []any) error {
	if err := s.usable(op, key); err != nil {
		return err
	}
	name := s.name(key)
	n, err := run(ctx, s.client, sc, name, redis.NewIntCmd, args).Result()
	switch {
	case err != nil:
		return s.opErr(op, key, err)
	case n == 0:
		return idemtype.ErrLeaseLost
	case n < 0:
		return s.opErr(op, key, errCorrupt("not a well-formed record"))
	}
	return nil
}

// Get implements idemtype.Store in one round trip: a read-only script
// that returns the record with the server time, by which expiry is judged.
func (s *Store) Get(ctx context.Context, key string) (idemtype.Record, error) {
	if err := s.usable("get", key); err != nil {
		return idemtype.Record{}, err
	}
	res, err := run(ctx, s.client, getScript, s.name(key), redis.NewCmd, make([]any, 4)).Result()
	if err != nil {
		return idemtype.Record{}, s.opErr("get", key, err)
	}
	reply, ok := res.([]any)
	if !ok || len(reply) != len(fields)+1 {
		return idemtype.Record{}, s.opErr("get", key, errCorrupt("not a record hash"))
	}
	vals := reply[:len(fields)]
	now, ok := reply[len(fields)].(int64)
	if !ok {
		return idemtype.Record{}, s.opErr("get", key, fmt.Errorf("unexpected reply %T for the server time", reply[len(fields)]))
	}
	if isAbsent(vals) || isTombstone(vals) {
		return idemtype.Record{}, idemtype.ErrNotFound
	}
	rec, err := decodeHash(key, vals)
	if err != nil {
		return idemtype.Record{}, s.opErr("get", key, err)
	}
	if !idemtype.Live(&rec, time.UnixMilli(now)) {
		return idemtype.Record{}, idemtype.ErrNotFound
	}
	return rec, nil
}

// Delete implements idemtype.Store in one round trip. It wakes watchers
// of the key.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.usable("delete", key); err != nil {
		return err
	}
	name := s.name(key)
	if err := run(ctx, s.client, deleteScript, name, redis.NewCmd, []any{4: s.tombArg, s.pubArg, s.nonce()}).Err(); err != nil {
		return s.opErr("delete", key, err)
	}
	return nil
}

// Close implements idemtype.Closer: it stops the Store's subscriptions,
// wakes every watcher and waits for the subscriptions' goroutines; every
// operation after it fails with [ErrClosed]. It does not close the client.
func (s *Store) Close() error {
	return s.life.Close(func() error {
		s.watch.close()
		return nil
	})
}

// usable reports, for op on key, that the Store was closed.
func (s *Store) usable(op, key string) error {
	if s.life.Closed() {
		return s.opErr(op, key, ErrClosed)
	}
	return nil
}
