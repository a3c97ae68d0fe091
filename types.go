package idempotency

import "github.com/idempotency-go/idempotency/idemtype"

// The store contract, re-exported from package idemtype so that stores can
// implement it without importing this package. See idemtype for the
// documentation of each name.
type (
	// Store keeps one record per key. See idemtype.Store.
	Store = idemtype.Store
	// ClaimRequest is the argument of Store.Claim.
	ClaimRequest = idemtype.ClaimRequest
	// Claim is the reply of Store.Claim.
	Claim = idemtype.Claim
	// Outcome is what Store.Complete records.
	Outcome = idemtype.Outcome
	// Record is a key's state in a store.
	Record = idemtype.Record
	// Status is the state of a record.
	Status = idemtype.Status
	// Token identifies one claim of a key; later claims get larger tokens.
	Token = idemtype.Token
	// Watcher is the optional capability of waking waiters without polling.
	Watcher = idemtype.Watcher
	// Lister is the optional capability of listing records by key prefix.
	Lister = idemtype.Lister
	// Sweeper is the optional capability of removing expired records.
	Sweeper = idemtype.Sweeper
	// Closer is a store's Close, with one contract for every store: after
	// it, every operation fails with [ErrClosed]. See idemtype.Closer.
	Closer = idemtype.Closer
)

// The states of a record.
const (
	StatusInProgress = idemtype.StatusInProgress
	StatusCompleted  = idemtype.StatusCompleted
	StatusFailed     = idemtype.StatusFailed
)
