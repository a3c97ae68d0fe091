package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5"
)

// claimAttempts bounds how often Claim runs its statement again after
// losing a race to a concurrent commit (see statements.claim); each retry
// sees that commit, so more than two are rare.
const claimAttempts = 16

// Claim implements idemtype.Store in one statement, or two when it reads
// first (see [Options.ReadFirst]) and the key holds no finished record.
func (s *Store) Claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	if err := s.usable("claim", req.Key); err != nil {
		return idemtype.Claim{}, err
	}
	if err := s.nested(ctx, "claim", req.Key, true); err != nil {
		return idemtype.Claim{}, err
	}
	if c := txCallFrom(ctx, s, req.Key); c != nil {
		return c.claim(ctx, req)
	}
	return s.claimFirst(ctx, s.pool, req)
}

// claimFirst claims outside a DoTx call: on q (a pool or a database),
// reading first when the store's duplicates say so (Options.ReadFirst).
// A finished record the read finds is the claim's answer, as the claim
// statement would give it; for anything else the claim statement runs.
func (s *core) claimFirst(ctx context.Context, q querier, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	read := s.dups.ReadFirst(s.opts.ReadFirst)
	if read {
		rec, err := queryRecord(ctx, q, "claim", req.Key, s.sql.finished, []any{hashKey(req.Key)})
		if err == nil {
			s.dups.Observe(true)
			return idemtype.Claim{Record: rec}, nil
		}
		if !errors.Is(err, idemtype.ErrNotFound) {
			return idemtype.Claim{}, err
		}
	}
	c, err := s.claim(ctx, q, req)
	if err == nil {
		s.dups.ObserveClaimAfter(read, c)
	}
	return c, err
}

// claim runs the claim statement on q (a pool, or a DoTx transaction).
func (s *core) claim(ctx context.Context, q querier, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	args := claimArgs(req)
	for range claimAttempts {
		var c idemtype.Claim
		rec, err := queryRecord(ctx, q, "claim", req.Key, s.sql.claim, args, claimFlags(&c)...)
		if errors.Is(err, idemtype.ErrNotFound) {
			continue // lost a race with a concurrent commit: look again
		}
		return claimOf(c, rec, err)
	}
	return idemtype.Claim{}, wrap("claim", req.Key, fmt.Errorf("still racing after %d attempts", claimAttempts))
}

// claimIn runs the claim in a DoTx transaction under a short
// lock_timeout, in one round trip: save the caller's lock_timeout and
// force a durable commit, claim, restore lock_timeout so that fn's own
// statements and the completion wait as the caller configured, and read
// the transaction's id (assigned by the claim's write), by which the
// completion knows the transaction is still this one.
func (s *Store) claimIn(ctx context.Context, tx pgx.Tx, req idemtype.ClaimRequest, lockTimeout string) (idemtype.Claim, string, error) {
	if err := ctx.Err(); err != nil {
		return idemtype.Claim{}, "", err
	}
	// lock_timeout bounds the wait, not ctx: pgx v5.7 can leak a goroutine
	// when a context ends during a batch (jackc/pgx#1999). The timeout is
	// only for a connection that stops answering.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.LockWait+30*time.Second)
	defer cancel()
	for range claimAttempts {
		b := &pgx.Batch{}
		b.Queue(claimTxBefore, lockTimeout)
		b.Queue(s.sql.claim, claimArgs(req)...)
		b.Queue(claimTxAfter)
		br := tx.SendBatch(ctx, b)
		var (
			c       idemtype.Claim
			lt, xid string
		)
		_, err := br.Exec()
		if err != nil {
			err = wrap("claim", req.Key, err)
		} else {
			rows, qerr := br.Query()
			var rec idemtype.Record
			rec, err = readRecord(rows, qerr, "claim", req.Key, claimFlags(&c)...)
			c, err = claimOf(c, rec, err)
		}
		if err == nil {
			if err = br.QueryRow().Scan(&lt, &xid); err != nil {
				err = wrap("claim", req.Key, err)
			}
		}
		if cerr := br.Close(); err == nil && cerr != nil {
			err = wrap("claim", req.Key, cerr)
		}
		if errors.Is(err, idemtype.ErrNotFound) {
			continue // lost a race with a concurrent commit: look again
		}
		return c, xid, err
	}
	return idemtype.Claim{}, "", wrap("claim", req.Key, fmt.Errorf("still racing after %d attempts", claimAttempts))
}

// claimFlags are the destinations of the claim statement's columns after
// the record's.
func claimFlags(c *idemtype.Claim) []*bool { return []*bool{&c.Acquired, &c.TookOver, &c.Abandoned} }

// claimOf returns c with rec, the claim statement's row read into c's
// flags, or err and no Claim.
func claimOf(c idemtype.Claim, rec idemtype.Record, err error) (idemtype.Claim, error) {
	if err != nil {
		return idemtype.Claim{}, err
	}
	c.Record = rec
	return c, nil
}

func claimArgs(req idemtype.ClaimRequest) []any {
	return []any{hashKey(req.Key), []byte(req.Key), []byte(req.Fingerprint), micros(req.Lease, 1), micros(req.TTL, 0), req.Takeover}
}
