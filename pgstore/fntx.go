package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrTxOwned is what fn gets when it tries to end the transaction DoTx
// hands it: Commit and Rollback of that transaction, and any statement
// that would end it (COMMIT, END, ROLLBACK, ABORT, with AND CHAIN too,
// PREPARE TRANSACTION, COMMIT or ROLLBACK PREPARED, alone or among other
// statements) sent through Exec, Query, QueryRow, SendBatch or Prepare of
// the transaction or of a savepoint begun from it, also when a
// pgx.QueryRewriter argument (such as pgx.NamedArgs) makes one of the
// statement: DoTx runs the rewriter, once, and checks what it returns;
// and the name of a statement prepared on the connection (a text of one
// word is looked up among the session's prepared statements, which pgx
// runs instead of the text).
// Nothing of a refused call is sent, so the transaction goes on unharmed.
var ErrTxOwned = errors.New("idempotency: pgstore: the transaction belongs to DoTx; return from fn to commit it, or return an error to roll it back")

// ErrTxEnded reports that fn ended the transaction DoTx opened by a way
// DoTx cannot intercept (a statement sent through tx.Conn()): fn's writes
// may then have committed outside the record, so DoTx recorded the call as
// run (fn's result, its remembered failure, or completed without a value
// after a released failure, which duplicates see as
// idempotency.ErrResultUnavailable) and fn does not run again. DoTx
// returns it together with fn's error, if any. DoTxSQL reports it alike
// for the ways fn can end its *sql.Tx.
var ErrTxEnded = errors.New("idempotency: pgstore: fn ended the transaction DoTx or DoTxSQL opened; its writes may have committed outside the record")

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
	args, err := t.check(ctx, sql, args, false)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.Tx.Exec(ctx, sql, args...)
}

func (t fnTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	args, err := t.check(ctx, sql, args, false)
	if err != nil {
		return errRows{err}, err
	}
	return t.Tx.Query(ctx, sql, args...)
}

func (t fnTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	args, err := t.check(ctx, sql, args, false)
	if err != nil {
		return errRows{err}
	}
	return t.Tx.QueryRow(ctx, sql, args...)
}

func (t fnTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	checked := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, len(b.QueuedQueries))}
	for i, q := range b.QueuedQueries {
		args, err := t.check(ctx, q.SQL, q.Arguments, true)
		if err != nil {
			return errBatch{err}
		}
		c := *q // the caller's batch stays as it was
		c.Arguments = args
		checked.QueuedQueries[i] = &c
	}
	return t.Tx.SendBatch(ctx, checked)
}

func (t fnTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if err := refuseEnd(sql); err != nil {
		return nil, err
	}
	return t.Tx.Prepare(ctx, name, sql)
}

// check returns ErrTxOwned for a statement that would end the
// transaction: sql, or what a pgx.QueryRewriter among the leading options
// of args (pgx.NamedArgs, or any of the caller's) turns it into. The
// rewriter runs here, once, and pgx is handed its result, so the text
// checked is the text sent. A batch takes no option but the rewriter.
func (t fnTx) check(ctx context.Context, sql string, args []any, batch bool) ([]any, error) {
	n, last := 0, -1 // the leading options; pgx uses the last rewriter among them
	for ; n < len(args) && isOption(args[n], batch); n++ {
		if _, ok := args[n].(pgx.QueryRewriter); ok {
			last = n
		}
	}
	if last < 0 {
		return args, t.refuseEnd(ctx, sql)
	}
	rsql, rargs, err := args[last].(pgx.QueryRewriter).RewriteQuery(ctx, t.Conn(), sql, slices.Clone(args[n:]))
	if err != nil {
		return nil, fmt.Errorf("rewrite query failed: %w", err)
	}
	if err := t.refuseEnd(ctx, rsql); err != nil {
		return nil, err
	}
	out := slices.Clone(args[:n])
	out[last] = rewritten{rsql, rargs}
	return out, nil
}

// refuseEnd is refuseEnd for sql sent through the transaction. pgx runs
// the statement prepared on the connection under the name sql, if any,
// instead of sql itself: a name is one word, so a one-word text is also
// looked up among the session's prepared statements (one read, only for
// such texts), and refused when the statement it names would end the
// transaction.
func (t fnTx) refuseEnd(ctx context.Context, sql string) error {
	if err := refuseEnd(sql); err != nil || sql == "" || strings.ContainsAny(sql, " \t\n\r\f\v;") {
		return err
	}
	var stmt string
	err := t.Tx.QueryRow(ctx, `SELECT statement FROM pg_prepared_statements WHERE name = $1`, sql).Scan(&stmt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	case endsTx(stmt):
		return fmt.Errorf("%w: refused, not sent: %q names a prepared statement that would end it", ErrTxOwned, truncate(sql))
	}
	return nil
}

func isOption(a any, batch bool) bool {
	switch a.(type) {
	case pgx.QueryRewriter:
		return true
	case pgx.QueryExecMode, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID:
		return !batch
	}
	return false
}

// rewritten is a rewriter's result, checked, handed to pgx as a rewriter.
type rewritten struct {
	sql  string
	args []any
}

func (r rewritten) RewriteQuery(context.Context, *pgx.Conn, string, []any) (string, []any, error) {
	return r.sql, r.args, nil
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
