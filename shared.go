package idempotency

import "reflect"

// SharedResult is implemented by result types whose replayed values the
// callers never modify, although they hold slices, maps or pointers. The
// guard then treats them as it treats results without any: it decodes a
// stored outcome once and hands that same value to every duplicate (kept
// with the record, in its small replay cache, or with a [Config.LocalCache]
// entry), instead of decoding a fresh copy for each.
//
// Implement it (with a value receiver) only when no caller of Do, Call or
// Wrap for that type ever writes into a result it got: a write would
// change what every later duplicate receives.
type SharedResult interface {
	// SharedResult marks the type; it is never called.
	SharedResult()
}

var sharedResultType = reflect.TypeFor[SharedResult]()
