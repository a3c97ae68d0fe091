package storetest_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// refStore is the simplest store the rules allow: one map under one lock.
// Its bug, when set, is one deliberate defect (see mutants_test.go), so
// that the suite is shown to fail each one.
type refStore struct {
	mu    sync.Mutex
	recs  map[string]*idemtype.Record
	token idemtype.Token
	now   func() time.Time
	bug   string

	closed     atomic.Bool
	closeCalls atomic.Int32
}

var (
	_ idemtype.Store   = (*refStore)(nil)
	_ idemtype.Lister  = (*refStore)(nil)
	_ idemtype.Sweeper = (*refStore)(nil)
	_ idemtype.Closer  = (*refStore)(nil)
)

func newRefStore(now func() time.Time, bug string) *refStore {
	if now == nil {
		now = time.Now
	}
	return &refStore{recs: make(map[string]*idemtype.Record), now: now, bug: bug}
}

func (s *refStore) live(key string, now time.Time) *idemtype.Record {
	rec := s.recs[key]
	if rec == nil {
		return nil
	}
	live := idemtype.Live(rec, now)
	if s.bug == "LiveAtExpiresAt" {
		live = rec.ExpiresAt.IsZero() || !now.After(rec.ExpiresAt)
	}
	if !live {
		delete(s.recs, key)
		return nil
	}
	return rec
}

func (s *refStore) Claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	if err := s.usable(ctx, "claim", req.Key); err != nil {
		return idemtype.Claim{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rec := s.live(req.Key, now)
	v, abandoned := idemtype.JudgeClaim(rec, &req, now)
	switch s.bug {
	case "FailedLeaseLapses":
		if rec != nil && rec.Status == idemtype.StatusFailed && !now.Before(rec.LeaseUntil) && req.Takeover {
			v = idemtype.TakeOver
		}
	case "NotAbandonedOnOtherFingerprint":
		if v == idemtype.Refuse && rec.Fingerprint != req.Fingerprint {
			abandoned = false
		}
	}
	switch v {
	case idemtype.Refuse:
		return idemtype.Claim{Record: *rec, Abandoned: abandoned}, nil
	case idemtype.TakeOver:
		old := *rec
		s.token++
		*rec = idemtype.Claimed(req, s.token, now)
		if s.bug == "TakeoverKeepsToken" {
			rec.Token = old.Token
		}
		rec.CreatedAt = old.CreatedAt
		if s.bug == "TakeoverKeepsExpiry" {
			rec.ExpiresAt = old.ExpiresAt
		}
		return idemtype.Claim{Acquired: true, TookOver: true, Record: *rec}, nil
	}
	s.token++
	tok := s.token
	if s.bug == "TokenRestartsWithRecord" {
		tok = 1 // a counter kept with the record, restarted with a new one
	}
	rec = new(idemtype.Record)
	*rec = idemtype.Claimed(req, tok, now)
	s.recs[req.Key] = rec
	return idemtype.Claim{Acquired: true, Record: *rec}, nil
}

func (s *refStore) owned(ctx context.Context, key string, token idemtype.Token, f func(*idemtype.Record, time.Time)) error {
	if err := s.usable(ctx, "write", key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rec := s.live(key, now)
	owns := idemtype.Owns(rec, token, now)
	switch {
	case s.bug == "WritesIgnoreToken" && rec != nil && rec.Status == idemtype.StatusInProgress:
		owns = true // any token may write an in-progress record
	case s.bug == "LapsedOwnerLosesRecord" && owns && idemtype.Lapsed(rec, now):
		owns = false
	}
	if !owns {
		return idemtype.ErrLeaseLost
	}
	f(rec, now)
	return nil
}

func (s *refStore) Extend(ctx context.Context, key string, token idemtype.Token, lease time.Duration) error {
	return s.owned(ctx, key, token, func(rec *idemtype.Record, now time.Time) {
		idemtype.Extended(rec, lease, now)
	})
}

func (s *refStore) Complete(ctx context.Context, key string, token idemtype.Token, out idemtype.Outcome) error {
	if err := idemtype.CheckOutcome(out); err != nil && s.bug != "CompleteAnyStatus" {
		return err
	}
	if s.bug != "CompleteKeepsCallersSlice" {
		out.Value = bytes.Clone(out.Value)
	}
	return s.owned(ctx, key, token, func(rec *idemtype.Record, now time.Time) {
		old := rec.ExpiresAt
		idemtype.Completed(rec, out, now)
		if s.bug == "CompleteNoExpiryKeepsClaimExpiry" && out.TTL <= 0 {
			rec.ExpiresAt = old
		}
	})
}

func (s *refStore) Release(ctx context.Context, key string, token idemtype.Token) error {
	return s.owned(ctx, key, token, func(*idemtype.Record, time.Time) {
		if s.bug != "ReleaseKeepsRecord" {
			delete(s.recs, key)
		}
	})
}

func (s *refStore) Get(ctx context.Context, key string) (idemtype.Record, error) {
	if err := s.usable(ctx, "get", key); err != nil {
		return idemtype.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.live(key, s.now()); rec != nil {
		return *rec, nil
	}
	return idemtype.Record{}, idemtype.ErrNotFound
}

func (s *refStore) Delete(ctx context.Context, key string) error {
	if err := s.usable(ctx, "delete", key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, key)
	return nil
}

func (s *refStore) List(ctx context.Context, prefix string, fn func(idemtype.Record) bool) error {
	if err := s.usable(ctx, "list", ""); err != nil {
		return err
	}
	s.mu.Lock()
	now := s.now()
	var recs []idemtype.Record
	for k, rec := range s.recs {
		if strings.HasPrefix(k, prefix) && (s.bug == "ListExpired" || idemtype.Live(rec, now)) {
			recs = append(recs, *rec)
		}
	}
	s.mu.Unlock()
	for _, rec := range recs {
		if !fn(rec) {
			return nil
		}
	}
	return ctx.Err()
}

func (s *refStore) Sweep(ctx context.Context) (int, error) {
	if err := s.usable(ctx, "sweep", ""); err != nil && s.bug != "SweepAfterClose" {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, now := 0, s.now()
	for k, rec := range s.recs {
		if !idemtype.Live(rec, now) {
			delete(s.recs, k)
			n++
		}
	}
	return n, ctx.Err()
}

func (s *refStore) Close() error {
	if s.closeCalls.Add(1) > 1 && s.bug == "SecondCloseFails" {
		return errors.New("already closed")
	}
	s.closed.Store(true)
	return nil
}

func (s *refStore) usable(ctx context.Context, op, key string) error {
	if s.closed.Load() && s.bug != "UsableAfterClose" {
		return &idemtype.OpError{Store: "refstore", Op: op, Key: key, Err: idemtype.ErrClosed}
	}
	return ctx.Err()
}
