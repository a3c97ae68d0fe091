// Package idempotency makes side effects happen at most once.
//
// Wrap a function that charges a card, sends an e-mail, handles a webhook
// or runs a nightly job, and retries, timeouts, concurrent duplicates,
// replayed events, crashed processes and extra servers can no longer make
// it run twice:
//
//	g := idempotency.New(store, nil) // nil store: in-memory
//	charge, err := idempotency.Do(ctx, g, "invoice:"+id, func(ctx context.Context) (Charge, error) {
//		return payments.Charge(ctx, id, amount)
//	})
//
// The first call with a key claims it in a Store, runs the function and
// records its outcome; every later call with that key gets the recorded
// outcome without running it. This is not a cache: the store records
// executions (in progress, completed, failed), so a duplicate that arrives
// while the first call still runs waits for it (ReturnStored, Wait) or is
// refused (Reject) instead of running it again.
//
// # The guarantee
//
// fn runs at most once per key while its record lives (Config.TTL), with
// one exception: an execution that dies or stalls past its lease
// (Config.Lease, renewed every Lease/3 while fn runs) may be taken over by
// a later call, which runs fn again. That is at-least-once for that crash
// only, and the stale executor can never overwrite the newer outcome: every
// write carries the claim's fencing token (TokenFrom), and a store refuses
// writes by a token that no longer owns the key. Config.NoTakeover gives
// strict at-most-once instead: a lapsed claim is never taken over and
// callers get ErrAbandoned. pgstore.DoTx gives exactly-once for effects
// written in the same PostgreSQL transaction as the record.
//
// # Stores
//
// memstore (the default) serves one process; filestore many processes on
// one host; redisstore many servers on Redis; pgstore many servers on
// PostgreSQL. Any type implementing Store works; package storetest is the
// conformance suite every store must pass.
//
// # Errors
//
// Errors are *Error values matching a sentinel (ErrInProgress,
// ErrDuplicate, ErrKeyReused, ErrAbandoned, ErrNotRecorded,
// ErrResultUnavailable, ErrStore, ErrInvalidKey, ErrInvalidConfig) with
// errors.Is, or a *FailedError (ErrFailed) for a replayed failure. fn's own
// errors are returned unchanged. fn's context is cancelled with cause
// ErrLeaseLost when its claim is lost, and ErrMaxExecution when it runs
// past Config.MaxExecution.
//
// # Logs and observers
//
// Store errors are logged at error level, through slog.Default unless
// Config.Logger says otherwise; keys appear in logs as keyed digests
// (KeyDigest) unless Config.LogRawKeys. An Observer sees each event once
// the call's claim is settled, on the calling goroutine: it cannot keep a
// key claimed or delay a renewal, and its panics are recovered and logged.
package idempotency
