package pgstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// sqlConn runs the shared statements (core) on a *sql.DB or *sql.Tx, in
// the pgx shape they are written for. Any PostgreSQL driver takes them:
// they use $n placeholders and types every driver sends.
type sqlConn struct{ q sqlQuerier }

// sqlQuerier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var _ dbtx = sqlConn{}

func (c sqlConn) QueryRow(ctx context.Context, query string, args ...any) pgx.Row {
	return c.q.QueryRowContext(ctx, query, args...)
}

func (c sqlConn) Query(ctx context.Context, query string, args ...any) (pgx.Rows, error) {
	rows, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c sqlConn) Exec(ctx context.Context, query string, args ...any) (pgconn.CommandTag, error) {
	_, err := c.q.ExecContext(ctx, query, args...)
	return pgconn.CommandTag{}, err
}

// sqlRows is *sql.Rows as pgx.Rows, for what the shared code uses of it:
// Next, Scan, Err and Close.
type sqlRows struct{ r *sql.Rows }

var errSQLRows = errors.New("idempotency: pgstore: not available through database/sql")

func (r sqlRows) Close()                                     { _ = r.r.Close() }
func (r sqlRows) Err() error                                 { return r.r.Err() }
func (sqlRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (sqlRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (r sqlRows) Next() bool                                 { return r.r.Next() }
func (r sqlRows) Scan(dest ...any) error                     { return r.r.Scan(dest...) }
func (sqlRows) Values() ([]any, error)                       { return nil, errSQLRows }
func (sqlRows) RawValues() [][]byte                          { return nil }
func (sqlRows) Conn() *pgx.Conn                              { return nil }
