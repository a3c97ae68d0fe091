package pgstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// queryRecord runs a statement returning a record's columns (cols), then
// extra booleans, on q and reads its one row for key; no row is
// ErrNotFound. Through pgx it reads the row's raw values (see raw); through
// database/sql it scans the row, whose Scan reports what ending the
// statement found.
func queryRecord(ctx context.Context, q querier, op, key, sql string, args []any, extra ...*bool) (idemtype.Record, error) {
	if _, ok := q.(sqlConn); !ok {
		if rq, ok := q.(querier2); ok {
			rows, err := rq.Query(ctx, sql, args...)
			return readRecord(rows, err, op, key, extra...)
		}
	}
	dest := make([]any, len(extra))
	for i, e := range extra {
		dest[i] = e
	}
	return scanRecord(q.QueryRow(ctx, sql, args...), op, key, dest...)
}

// readRecord reads the one row of rows (the result of Query, and its
// error) for key, as pgx's QueryRow and Scan would: no row is ErrNotFound,
// and an error that ends the statement after its row is the answer.
func readRecord(rows pgx.Rows, err error, op, key string, extra ...*bool) (idemtype.Record, error) {
	if err != nil {
		return idemtype.Record{}, wrap(op, key, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return idemtype.Record{}, wrap(op, key, err)
		}
		return idemtype.Record{}, idemtype.ErrNotFound
	}
	var r row
	if !r.raw(rows, extra) {
		dest := r.dest()
		for _, e := range extra {
			dest = append(dest, e)
		}
		if err := rows.Scan(dest...); err != nil {
			return idemtype.Record{}, wrap(op, key, err)
		}
	}
	rec, derr := r.decode(op, key) // before Close: r may hold the row's buffer
	rows.Close()
	if err := rows.Err(); err != nil {
		return idemtype.Record{}, wrap(op, key, err)
	}
	return rec, derr
}

// The types of cols, in order, and of the extra booleans.
var colOIDs = [...]uint32{pgtype.ByteaOID, pgtype.ByteaOID, pgtype.Int2OID, pgtype.Int8OID, pgtype.ByteaOID,
	pgtype.TimestamptzOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID}

// raw fills r and extra from the current row's raw values when they are in
// the binary formats of cols' types (which pgx asks for) and pgx would
// scan them as read here; else it reports false and the caller scans.
// pgx plans the scan of every column of every query anew, and its plans
// for timestamps allocate: read raw, a record costs the copies it keeps.
// The formats are the protocol's: bytea as is, integers and booleans big
// endian, timestamptz as microseconds since 2000-01-01 UTC, the largest
// and smallest int64 standing for infinity and -infinity. key is not
// copied: decode only compares it.
func (r *row) raw(rows pgx.Rows, extra []*bool) bool {
	fds, vals := rows.FieldDescriptions(), rows.RawValues()
	if len(fds) != len(colOIDs)+len(extra) || len(vals) != len(fds) || !localTimes(rows.Conn()) {
		return false
	}
	for i, fd := range fds {
		oid := uint32(pgtype.BoolOID)
		if i < len(colOIDs) {
			oid = colOIDs[i]
		}
		if fd.Format != pgtype.BinaryFormatCode || fd.DataTypeOID != oid {
			return false
		}
	}
	// NULL is allowed where scanning it is: bytea and timestamptz.
	if len(vals[2]) != 2 || len(vals[3]) != 8 {
		return false
	}
	ts := [...]*pgtype.Timestamptz{&r.leaseUntil, &r.expiresAt, &r.createdAt, &r.updatedAt}
	for i, t := range ts {
		if !timestamptz(vals[5+i], t) {
			return false
		}
	}
	for i, e := range extra {
		v := vals[len(colOIDs)+i]
		if len(v) != 1 {
			return false
		}
		*e = v[0] != 0
	}
	r.key, r.fingerprint = vals[0], vals[1]
	r.status = int16(binary.BigEndian.Uint16(vals[2]))
	r.token = int64(binary.BigEndian.Uint64(vals[3]))
	r.value = bytes.Clone(vals[4]) // a Record's value outlives the row
	return true
}

// microsUnixToY2K is 2000-01-01 UTC in microseconds since the Unix epoch.
const microsUnixToY2K = 946684800 * 1000000

// timestamptz reads a binary timestamptz (nil: NULL) as pgx's
// Timestamptz scan does with no ScanLocation: in the local zone.
func timestamptz(v []byte, t *pgtype.Timestamptz) bool {
	switch {
	case v == nil:
		*t = pgtype.Timestamptz{}
		return true
	case len(v) != 8:
		return false
	}
	switch us := int64(binary.BigEndian.Uint64(v)); us {
	case math.MaxInt64:
		*t = pgtype.Timestamptz{Valid: true, InfinityModifier: pgtype.Infinity}
	case math.MinInt64:
		*t = pgtype.Timestamptz{Valid: true, InfinityModifier: pgtype.NegativeInfinity}
	default:
		*t = pgtype.Timestamptz{Valid: true, Time: time.Unix(microsUnixToY2K/1000000+us/1000000,
			microsUnixToY2K%1000000*1000+us%1000000*1000)}
	}
	return true
}

// localTimes reports that conn scans timestamptz with pgx's own codec and
// no ScanLocation, as timestamptz reads it.
func localTimes(conn *pgx.Conn) bool {
	if conn == nil {
		return false
	}
	t, ok := conn.TypeMap().TypeForOID(pgtype.TimestamptzOID)
	if !ok {
		return false
	}
	c, ok := t.Codec.(*pgtype.TimestamptzCodec)
	return ok && c.ScanLocation == nil
}
