package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrTxOwned is what fn gets when it tries to end the transaction DoTx
// hands it: Commit and Rollback of that transaction, and any statement
// that would end it (COMMIT, END, ROLLBACK, ABORT, with AND CHAIN too,
// PREPARE TRANSACTION, COMMIT or ROLLBACK PREPARED, alone or among other
// statements) sent through Exec, Query, QueryRow, SendBatch or Prepare of
// the transaction or of a savepoint begun from it. Nothing of a refused
// call is sent, so the transaction goes on unharmed.
var ErrTxOwned = errors.New("idempotency: pgstore: the transaction belongs to DoTx; return from fn to commit it, or return an error to roll it back")

// ErrTxEnded reports that fn ended the transaction DoTx opened by a way
// DoTx cannot intercept (a statement sent through tx.Conn()): fn's writes
// may then have committed outside the record, so DoTx recorded the call as
// run (fn's result, its remembered failure, or completed without a value
// after a released failure, which duplicates see as
// idempotency.ErrResultUnavailable) and fn does not run again. DoTx
// returns it together with fn's error, if any.
var ErrTxEnded = errors.New("idempotency: pgstore: fn ended the transaction DoTx opened (a statement through tx.Conn()); its writes may have committed outside the record")

// fnTx is the transaction fn sees, or a savepoint of it: everything but
// ending the transaction, since fn's writes must commit with their record
// or not at all. A savepoint's own Commit and Rollback (RELEASE, ROLLBACK
// TO) work.
type fnTx struct {
	pgx.Tx
	top bool // DoTx's transaction, not a savepoint
}

// Commit returns ErrTxOwned for DoTx's transaction; it releases a
// savepoint.
func (t fnTx) Commit(ctx context.Context) error {
	if t.top {
		return ErrTxOwned
	}
	return t.Tx.Commit(ctx)
}

// Rollback returns ErrTxOwned for DoTx's transaction; it rolls back to a
// savepoint.
func (t fnTx) Rollback(ctx context.Context) error {
	if t.top {
		return ErrTxOwned
	}
	return t.Tx.Rollback(ctx)
}

// Begin starts a savepoint, guarded as its transaction is.
func (t fnTx) Begin(ctx context.Context) (pgx.Tx, error) {
	sp, err := t.Tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return fnTx{Tx: sp}, nil
}

func (t fnTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := refuseEnd(sql); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.Tx.Exec(ctx, sql, args...)
}

func (t fnTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := refuseEnd(sql); err != nil {
		return errRows{err}, err
	}
	return t.Tx.Query(ctx, sql, args...)
}

func (t fnTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := refuseEnd(sql); err != nil {
		return errRows{err}
	}
	return t.Tx.QueryRow(ctx, sql, args...)
}

func (t fnTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	for _, q := range b.QueuedQueries {
		if err := refuseEnd(q.SQL); err != nil {
			return errBatch{err}
		}
	}
	return t.Tx.SendBatch(ctx, b)
}

func (t fnTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if err := refuseEnd(sql); err != nil {
		return nil, err
	}
	return t.Tx.Prepare(ctx, name, sql)
}

// refuseEnd returns ErrTxOwned for SQL that would end the transaction.
func refuseEnd(sql string) error {
	if endsTx(sql) {
		return fmt.Errorf("%w: refused, not sent: %q", ErrTxOwned, truncate(sql))
	}
	return nil
}

// errRows is the result of a refused Query or QueryRow.
type errRows struct{ err error }

func (errRows) Close()                                       {}
func (r errRows) Err() error                                 { return r.err }
func (errRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (errRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (errRows) Next() bool                                   { return false }
func (r errRows) Scan(...any) error                          { return r.err }
func (r errRows) Values() ([]any, error)                     { return nil, r.err }
func (errRows) RawValues() [][]byte                          { return nil }
func (errRows) Conn() *pgx.Conn                              { return nil }

// errBatch is the result of a refused SendBatch.
type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return errRows(b), b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRows(b) }
func (b errBatch) Close() error                     { return b.err }
