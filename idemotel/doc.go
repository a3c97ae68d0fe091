// Package idemotel reports a [idempotency.Guard]'s calls to OpenTelemetry:
// metrics through a MeterProvider and one span per guarded call through a
// TracerProvider.
//
// Wire it as the guard's observer:
//
//	obs, err := idemotel.NewObserver(idemotel.Options{}) // the global providers
//	if err != nil { ... }
//	g := idempotency.New(store, &idempotency.Config{Observer: obs})
//
// # Metrics
//
//   - idempotency.calls (counter, {call}): one per guarded call, with
//     idempotency.outcome (executed, replayed, conflict, key_reused, takeover,
//     lease_lost, store_error, failed, invalid_key) and idempotency.name.
//     Exported to Prometheus as idempotency_calls_total.
//   - idempotency.call.duration (histogram, seconds): the whole call, by
//     outcome and name.
//   - idempotency.store.duration (histogram, seconds): each store operation,
//     by idempotency.operation (claim, complete, release, extend, get, ...)
//     and name.
//
// idempotency.name is the low-cardinality name part of a key (see
// [idempotency.KeyName] and [idempotency.Config.Name]); raw keys never
// become attributes, since they may carry client data and would make every
// call its own time series.
//
// # Traces
//
// Each call is a span named "idempotency.call", a child of the caller's
// span, with the outcome, the fencing token and the name as attributes;
// takeovers and lost leases are span events, and errors are recorded. fn's
// context carries the span, so spans fn starts are its children.
package idemotel
