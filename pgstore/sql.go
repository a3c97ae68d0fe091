package pgstore

import "strings"

// The store's statements. Time is statement_timestamp() throughout: the
// server's clock, one instant per statement, fresh for each statement of a
// DoTx transaction. Durations travel as microseconds.
//
// Writes return set_config('synchronous_commit', 'on', true): evaluated
// for each written row, it forces a durable commit of that statement's
// transaction even where the server or session runs with
// synchronous_commit off (the setting is read at commit, before
// transaction-local settings are reset). Writes that change a record
// someone watches (waiters) notify the store's channel with the key digest
// in hex; NOTIFY is delivered at commit.
type statements struct {
	claim, finished, complete, completeTx, release, extend, del, get, list, watch, sweep, settle, held string
}

const cols = `key, fingerprint, status, token, value, lease_until, expires_at, created_at, updated_at`

func buildStatements(n names) statements {
	pairs := []string{"TABLE", n.table, "SEQ", n.seq, "CHAN", quoteLiteral(n.channel)}
	if n.channel2 != "" {
		// Notify both channels (the longer pattern first: a Replacer
		// tries its patterns in order).
		const call = `pg_notify(CHAN, encode(r.key_hash, 'hex'))::text`
		both := `(pg_notify(` + quoteLiteral(n.channel) + `, encode(r.key_hash, 'hex'))::text || pg_notify(` +
			quoteLiteral(n.channel2) + `, encode(r.key_hash, 'hex'))::text)`
		pairs = append([]string{call, both}, pairs...)
	}
	r := strings.NewReplacer(pairs...)
	const (
		ts      = `statement_timestamp()`
		live    = `coalesce(r.expires_at > statement_timestamp(), true)`
		expired = `coalesce(r.expires_at <= statement_timestamp(), false)`
		lapsed  = `(r.status = 1 AND r.lease_until <= statement_timestamp())`
		notify  = `CASE WHEN r.waiters THEN pg_notify(CHAN, encode(r.key_hash, 'hex'))::text END AS n`
		durable = `set_config('synchronous_commit', 'on', true) AS sc`
		owned   = `r.key_hash = $1 AND r.key = $2 AND r.token = $3 AND r.status = 1 AND ` + live
	)
	q := statements{
		// $1 key_hash, $2 key, $3 fingerprint, $4 lease µs, $5 ttl µs
		// (<= 0: forever), $6 takeover.
		//
		// cur reads the record first. When it is held (live, and neither
		// expired nor a lapsed claim this call may take over), it is the
		// answer, and the statement writes nothing: a duplicate takes no
		// row lock, no transaction id, no sequence value and no commit.
		// Otherwise the insert acquires a missing key; on a conflict it
		// replaces an expired record, or takes over a lapsed one with the
		// same fingerprint. Under READ COMMITTED cur reads the statement's
		// snapshot, while ON CONFLICT judges the newest version: a record
		// committed meanwhile is invisible to cur, or visible in an older,
		// acquirable state, and the insert then does nothing. The
		// statement then returns nothing and the caller runs it again; any
		// record it does return was live and held at the snapshot, which
		// is a true answer.
		claim: `WITH cur AS (
	SELECT ` + cols + `, NOT (r.key = $2 AND (` + expired + ` OR ($6::boolean AND ` + lapsed + ` AND r.fingerprint = $3))) AS held,
		` + lapsed + ` AS lapsed
	FROM TABLE r WHERE r.key_hash = $1
), ins AS (
	INSERT INTO TABLE AS r (key_hash, key, fingerprint, status, token, lease_until, expires_at, created_at, updated_at)
	SELECT $1, $2, $3, 1, nextval('SEQ'), ` + ts + ` + $4::bigint * interval '1 microsecond',
		CASE WHEN $5::bigint > 0 THEN ` + ts + ` + $5::bigint * interval '1 microsecond' END, ` + ts + `, ` + ts + `
	WHERE NOT EXISTS (SELECT FROM cur WHERE cur.held)
	ON CONFLICT (key_hash) DO UPDATE SET
		fingerprint = excluded.fingerprint, status = 1, value = NULL, token = nextval('SEQ'),
		lease_until = excluded.lease_until, expires_at = excluded.expires_at,
		created_at = CASE WHEN ` + expired + ` THEN excluded.created_at ELSE r.created_at END,
		updated_at = excluded.updated_at,
		waiters = r.waiters AND NOT ` + expired + `
	WHERE r.key = excluded.key AND (` + expired + ` OR ($6::boolean AND ` + lapsed + ` AND r.fingerprint = excluded.fingerprint))
	RETURNING ` + cols + `, true AS acquired, r.created_at < ` + ts + ` AS took_over, false AS lapsed, ` + notify + `, ` + durable + `
)
SELECT ` + cols + `, acquired, took_over, lapsed FROM ins
UNION ALL
SELECT ` + cols + `, false, false, lapsed FROM cur WHERE held`,

		// $1 key_hash. The plain read a claim may make first (see
		// Options.ReadFirst): a finished record, live, is the claim's
		// answer; for anything else the claim statement runs.
		finished: `SELECT ` + cols + ` FROM TABLE AS r WHERE r.key_hash = $1 AND r.status <> 1 AND ` + live,

		// $1 key_hash, $2 key, $3 token, $4 status, $5 value, $6 ttl µs.
		complete: `UPDATE TABLE AS r SET status = $4, value = $5, updated_at = ` + ts + `,
	expires_at = CASE WHEN $6::bigint > 0 THEN ` + ts + ` + $6::bigint * interval '1 microsecond' END
WHERE ` + owned + ` RETURNING ` + notify + `, ` + durable,

		// As complete, inside a DoTx transaction: duplicates blocked on the
		// uncommitted row could not mark it watched, so always notify.
		// $7 is the transaction's id as the claim saw it: in another
		// transaction (fn ended DoTx's own) the statement changes nothing.
		completeTx: `UPDATE TABLE AS r SET status = $4, value = $5, updated_at = ` + ts + `,
	expires_at = CASE WHEN $6::bigint > 0 THEN ` + ts + ` + $6::bigint * interval '1 microsecond' END
WHERE ` + owned + ` AND pg_current_xact_id_if_assigned() = $7::text::xid8 RETURNING pg_notify(CHAN, encode(r.key_hash, 'hex'))::text AS n, ` + durable,

		// $1 key_hash, $2 key, $3 token.
		release: `DELETE FROM TABLE AS r WHERE ` + owned + ` RETURNING ` + notify + `, ` + durable,

		// $1 key_hash, $2 key, $3 token, $4 lease µs.
		extend: `UPDATE TABLE AS r SET lease_until = ` + ts + ` + $4::bigint * interval '1 microsecond', updated_at = ` + ts + `
WHERE ` + owned + ` RETURNING ` + durable,

		// $1 key_hash.
		del: `DELETE FROM TABLE AS r WHERE r.key_hash = $1 RETURNING ` + notify + `, ` + durable,

		// $1 key_hash.
		get: `SELECT ` + cols + ` FROM TABLE AS r WHERE r.key_hash = $1 AND ` + live,

		// $1 prefix, $2 its length. No index serves a prefix of a bytea
		// key of any length: this is a scan, for operators.
		list: `SELECT ` + cols + ` FROM TABLE AS r WHERE substring(r.key FROM 1 FOR $2::int) = $1 AND ` + live,

		// $1 key_hash. Marks an in-progress record watched, so that the
		// write that ends it notifies.
		watch: `UPDATE TABLE AS r SET waiters = true WHERE r.key_hash = $1 AND r.status = 1 AND NOT r.waiters`,

		// $1 batch size. Rows locked by a running transaction are left for
		// the next sweep.
		sweep: `WITH d AS (
	DELETE FROM TABLE AS r WHERE r.key_hash IN (
		SELECT key_hash FROM TABLE WHERE expires_at <= ` + ts + ` ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
	AND ` + expired + ` RETURNING ` + notify + `)
SELECT count(*) FROM d`,

		// Records an outcome of a DoTx call outside its transaction, after
		// that rolled back: a remembered failure, or any outcome when fn
		// ended the transaction itself. The key is free again, or still
		// holds the lapsed record this call took over, or (fn committed)
		// this call's own claim. $1 key_hash, $2 key, $3 fingerprint,
		// $4 token, $5 value, $6 ttl µs, $7 status.
		settle: `INSERT INTO TABLE AS r (key_hash, key, fingerprint, status, token, value, lease_until, expires_at, created_at, updated_at)
	VALUES ($1, $2, $3, $7, $4, $5, ` + ts + `, CASE WHEN $6::bigint > 0 THEN ` + ts + ` + $6::bigint * interval '1 microsecond' END, ` + ts + `, ` + ts + `)
	ON CONFLICT (key_hash) DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status, token = excluded.token, value = excluded.value,
		lease_until = excluded.lease_until, expires_at = excluded.expires_at, created_at = excluded.created_at, updated_at = excluded.updated_at,
		waiters = r.waiters AND NOT ` + expired + `
	WHERE r.key = excluded.key AND (` + expired + ` OR (r.status = 1 AND r.token = excluded.token)
		OR (` + lapsed + ` AND r.token < excluded.token AND r.fingerprint = excluded.fingerprint))
	RETURNING ` + notify + `, ` + durable,

		// $1 key_hash, $2 token: whether a claim of a DoTx call committed
		// (fn committed the transaction itself).
		held: `SELECT EXISTS (SELECT FROM TABLE WHERE key_hash = $1 AND token = $2 AND status = 1)`,
	}
	for _, p := range []*string{&q.claim, &q.finished, &q.complete, &q.completeTx, &q.release, &q.extend, &q.del, &q.get, &q.list, &q.watch, &q.sweep, &q.settle, &q.held} {
		*p = r.Replace(*p)
	}
	return q
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// A DoTx claim runs between these two, in its transaction: claimTxBefore
// ($1: the lock_timeout to wait with) saves the caller's lock_timeout and
// forces a durable commit; claimTxAfter restores lock_timeout and reads
// the transaction's id, assigned by the claim's write.
const (
	claimTxBefore = `SELECT set_config('idempotency.saved_lock_timeout', current_setting('lock_timeout'), true),
	set_config('lock_timeout', $1, true), set_config('synchronous_commit', 'on', true)`
	claimTxAfter = `SELECT set_config('lock_timeout', current_setting('idempotency.saved_lock_timeout'), true), coalesce(pg_current_xact_id_if_assigned()::text, '')`
)
