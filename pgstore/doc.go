// Package pgstore keeps idempotency records in PostgreSQL (pgx v5), and
// offers DoTx, which commits the record of a call together with the
// call's own writes to the same database.
//
// # Store
//
// New returns a Store for a *pgxpool.Pool. Every operation is one SQL
// statement: a first call costs two (claim, complete), a duplicate one.
// The claim reads the record first and writes only when it acquires, so a
// duplicate (a completed, failed or running record) is a read: no row
// lock, no transaction id, no token and no commit to wait for. While most
// claims are duplicates of finished calls, a claim reads first with a
// plain SELECT by primary key, cheaper still (see [Options.ReadFirst]).
// Leases and expiry are judged on the server's clock, keys of any bytes
// (NUL, invalid UTF-8, 4 KiB and more) are stored by their SHA-256 digest
// with the raw key alongside, and tokens come from one sequence, so they
// grow per key even after a release, delete or expiry. Every write commits
// with synchronous_commit on, whatever the server or session says, so a
// completed record survives a server crash.
//
// A Store implements idemtype.Watcher (LISTEN/NOTIFY on one dedicated
// connection, polling when it is down), idemtype.Lister and
// idemtype.Sweeper; Close releases the listening connection.
//
// # DoTx
//
// DoTx runs fn inside a transaction that also holds the claim of the key
// and records the outcome before it commits. Record and effect commit
// together or not at all: a process killed mid-call leaves neither, and the
// next call runs fn once. A duplicate arriving while that transaction runs
// blocks on its row lock, then gets the stored result, or gets an error
// matching idempotency.ErrInProgress when its wait ends first:
//
//	id, err := pgstore.DoTx(ctx, g, "payment:"+req.ID, func(ctx context.Context, tx pgx.Tx) (int64, error) {
//		var id int64
//		err := tx.QueryRow(ctx, "INSERT INTO ledger (account, cents) VALUES ($1, $2) RETURNING id", req.Account, req.Cents).Scan(&id)
//		return id, err
//	})
//
// fn must not end the transaction: tx refuses COMMIT, ROLLBACK and their
// kin with ErrTxOwned, and DoTx reports ErrTxEnded when fn ended it
// anyway through tx.Conn(). Guarded calls inside fn are calls of their
// own; one that could only wait for the enclosing DoTx (the same key, or
// a pool with no connection left) fails at once with ErrNested.
//
// # database/sql
//
// NewDB returns a DBStore for a *sql.DB of any PostgreSQL driver (pgx's
// stdlib, lib/pq): the same table, migrations, statements, error labels
// and conformance as Store, so both can work on one table; DoTxSQL is DoTx
// over a *sql.Tx:
//
//	s, err := pgstore.NewDB(ctx, db, nil)
//	g := idempotency.New(s, nil)
//	id, err := pgstore.DoTxSQL(ctx, g, "payment:"+req.ID, func(ctx context.Context, tx *sql.Tx) (int64, error) {
//		var id int64
//		err := tx.QueryRowContext(ctx, "INSERT INTO ledger (account, cents) VALUES ($1, $2) RETURNING id", req.Account, req.Cents).Scan(&id)
//		return id, err
//	})
//
// What differs: database/sql cannot receive notifications, so waiting
// duplicates poll; a DoTxSQL claim takes three round trips where DoTx's
// batch takes one; and *sql.Tx cannot be wrapped, so fn ending the
// transaction (tx.Commit, tx.Rollback, a COMMIT statement) is not refused
// but noticed at the end and reported as ErrTxEnded, with the call
// recorded so that fn does not run again.
//
// # Lost replies
//
// pgx sends each statement once: when a connection breaks before the
// reply arrives, the call fails and nothing is sent again, so no
// statement of the store runs twice for one call. What the server
// committed holds. A lost completion reply returns fn's result with
// idempotency.ErrNotRecorded although the outcome is recorded, and a
// retry replays it; a lost claim reply returns idempotency.ErrStore (fn
// did not run) and the key waits for its lease; a lost reply to DoTx's
// COMMIT means both or neither committed, and a retry is safe either way.
//
// # Schema
//
// New applies the schema (a table, a sequence, an index and a version
// table, all named after Options.Table) unless Options.ManualMigrate is
// set; Migrate applies it explicitly, for deployments where the
// application's role may not run DDL. Both check the objects themselves,
// not only the version table: Migrate recreates a table, sequence or
// index dropped after migration (a recreated sequence issues tokens above
// any the lost one did), and ManualMigrate's check refuses with ErrSchema
// naming what is missing.
package pgstore
