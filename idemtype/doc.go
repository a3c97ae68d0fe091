// Package idemtype holds the contract between the idempotency guard and its
// stores: the Store interface, the records it keeps, its optional capabilities
// and the errors it reports.
//
// It is a leaf package so that stores, including the in-memory store the root
// package uses by default, can implement the contract without importing the
// root package. The root package re-exports every name here with type
// aliases; users and store authors normally write idempotency.Store,
// idempotency.Record and so on.
package idemtype
