package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNested reports a call made inside DoTx's fn (with fn's context), or
// inside a JoinTx's call while its transaction is open, that could only
// wait for that DoTx (or JoinTx) itself: a guarded call, or Delete, on the
// key DoTx holds (its row is locked by DoTx's open transaction), or any
// call of a Store whose pool has no connection left beside those the
// enclosing DoTx calls hold. It fails at once instead of waiting until
// the context ends. The guard reports it inside an error matching
// idempotency.ErrStore; fn did not run.
var ErrNested = errors.New("idempotency: pgstore: this call inside DoTx's fn would wait for the enclosing DoTx")

// held is a DoTx call whose fn is running, as fn's context carries it,
// or a JoinTx call (call), which holds its key and a connection while its
// transaction is open; up is the call enclosing it, if any.
type held struct {
	s    *Store
	key  string
	up   *held
	call *txCall
}

type heldKey struct{}

// withHeld returns fn's context for the DoTx call c.
func withHeld(ctx context.Context, c *txCall) context.Context {
	up, _ := ctx.Value(heldKey{}).(*held)
	return context.WithValue(ctx, heldKey{}, &held{s: c.s, key: c.key, up: up})
}

// nested returns ErrNested when op on key under ctx would wait for an
// enclosing DoTx call: a pool whose every connection such calls hold, or,
// for an op that locks key's row (locks), the same key of the same table
// in the same database.
func (s *Store) nested(ctx context.Context, op, key string, locks bool) error {
	h, _ := ctx.Value(heldKey{}).(*held)
	if h == nil {
		return nil
	}
	conns := 0
	for ; h != nil; h = h.up {
		if h.call != nil && !h.call.open() {
			continue // a JoinTx still claiming, or done
		}
		if locks && h.key == key && sameTable(h.s, s) {
			return fmt.Errorf("%w: %s: the enclosing %s holds this key in its open transaction", ErrNested, op, h.name())
		}
		if h.s.pool == s.pool {
			conns++
		}
	}
	if max := int(s.pool.Config().MaxConns); conns >= max {
		return fmt.Errorf("%w: %s: the enclosing DoTx calls hold all %d connections of the pool", ErrNested, op, max)
	}
	return nil
}

// sameTable reports whether two stores use one table: as the server
// identifies it (so "records" and "public.records", or hosts 127.0.0.1 and
// localhost, are the same), or, across a server restart between their
// New, by its name and the connection settings.
func sameTable(a, b *Store) bool {
	return a.tableID == b.tableID || a.names.table == b.names.table && sameDatabase(a.pool, b.pool)
}

func sameDatabase(a, b *pgxpool.Pool) bool {
	if a == b {
		return true
	}
	x, y := a.Config().ConnConfig, b.Config().ConnConfig
	return x.Host == y.Host && x.Port == y.Port && x.Database == y.Database
}

func (h *held) name() string {
	if h.call != nil {
		return "JoinTx"
	}
	return "DoTx"
}
