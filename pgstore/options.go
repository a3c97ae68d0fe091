package pgstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5"
)

// Options configures a Store. A nil *Options, like the zero value, means
// defaults.
type Options struct {
	// Table names the records table, optionally schema-qualified
	// ("billing.idempotency"). Its sequence, index, version table and
	// notification channel are named after it. Lower-case letters, digits
	// and underscores, at most 48 characters per part. Default
	// "idempotency_records".
	Table string
	// ManualMigrate, when true, makes New check that the schema is current
	// instead of applying it; call Migrate with a role that may run DDL.
	// Default false: New migrates.
	ManualMigrate bool
	// LockWait is the longest one DoTx duplicate blocks on the row lock of
	// a transaction that is still running the first call before it looks
	// again, in case the commit's notification was lost; the guard's
	// duplicate policy decides how long it keeps looking. The wait is
	// bounded by the server (lock_timeout), not by the context, so it is
	// also how late such a duplicate may notice that its context ended.
	// Default 2s; at least 1ms.
	LockWait time.Duration
	// PollInterval is how often a waiting duplicate looks at the record
	// while notifications are unavailable (the listening connection is
	// down or cannot be made). Default 250ms. Negative: never poll, as in
	// every store of this module: a waiter then looks again only when
	// notified, or when the running call's lease lapses.
	PollInterval time.Duration
	// SweepBatch is how many expired rows one Sweep statement deletes;
	// Sweep repeats it until fewer are left. Default 1000.
	SweepBatch int
	// ReadFirst says when a claim outside DoTx first reads the key with a
	// plain SELECT by primary key: a duplicate of a finished call then
	// costs that read and nothing of the claim statement (whose insert
	// path PostgreSQL prepares even when it writes nothing), and a new
	// key one statement more. Default (the zero value):
	// idemtype.ReadFirstAuto, reading first while most of the store's
	// recent claims were such duplicates.
	ReadFirst idemtype.ReadFirst
}

const (
	defaultTable        = "idempotency_records"
	defaultLockWait     = 2 * time.Second
	defaultPollInterval = 250 * time.Millisecond
	defaultSweepBatch   = 1000
)

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// names are the quoted identifiers of the schema objects.
type names struct {
	table, seq, index, version string
	indexRel                   string // the index, schema-qualified like the table
	channel                    string // the NOTIFY channel, unquoted, named after Options.Table
	// channel2 is the channel named after the schema-qualified table, for
	// a table named without its schema: stores that name one table either
	// way notify and listen on it too (New sets it).
	channel2     string
	lockID       string // advisory lock key for migrations, by the name given
	schema, bare string // the name's parts, unquoted (schema empty when not given)
}

func (o Options) withDefaults() (Options, names, error) {
	if o.Table == "" {
		o.Table = defaultTable
	}
	if o.LockWait == 0 {
		o.LockWait = defaultLockWait
	}
	if o.LockWait < time.Millisecond {
		return o, names{}, fmt.Errorf("idempotency: pgstore: Options.LockWait %v is below 1ms", o.LockWait)
	}
	if o.PollInterval == 0 {
		o.PollInterval = defaultPollInterval
	}
	if o.SweepBatch <= 0 {
		o.SweepBatch = defaultSweepBatch
	}
	if !o.ReadFirst.Valid() {
		return o, names{}, fmt.Errorf("idempotency: pgstore: unknown Options.ReadFirst %d", o.ReadFirst)
	}
	parts := strings.Split(o.Table, ".")
	if len(parts) > 2 {
		return o, names{}, fmt.Errorf("idempotency: pgstore: invalid Options.Table %q: at most schema.table", o.Table)
	}
	for _, p := range parts {
		if !identRE.MatchString(p) {
			return o, names{}, fmt.Errorf("idempotency: pgstore: invalid Options.Table %q: want lower-case letters, digits and underscores, at most 48 per part", o.Table)
		}
	}
	ident := func(suffix string) string {
		id := append(pgx.Identifier(nil), parts...)
		id[len(id)-1] += suffix
		return id.Sanitize()
	}
	n := names{
		table:    ident(""),
		seq:      ident("_token_seq"),
		index:    pgx.Identifier{parts[len(parts)-1] + "_expires_idx"}.Sanitize(),
		indexRel: ident("_expires_idx"),
		version:  ident("_schema"),
		channel:  channelName(o.Table),
		lockID:   "idempotency:" + o.Table,
		bare:     parts[len(parts)-1],
	}
	if len(parts) == 2 {
		n.schema = parts[0]
	}
	return o, n, nil
}

// channelName is the NOTIFY channel of a table: readable when it fits in
// an identifier (63 bytes), else a digest.
func channelName(table string) string {
	c := "idempotency_" + strings.ReplaceAll(table, ".", "__")
	if len(c) <= 63 {
		return c
	}
	sum := sha256.Sum256([]byte(table))
	return "idempotency_" + hex.EncodeToString(sum[:16])
}
