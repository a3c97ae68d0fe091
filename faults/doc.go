// Package faults is the fault matrix of the idempotency guard: a test that
// runs many real processes through the guard over every store while it
// injects crashes, stalls, server restarts, network faults, clock jumps,
// cancellations and panics, records a history of every call, counts the
// side effects outside the processes, and checks the history for
// linearizability against a model of one key with porcupine.
//
// The package itself holds the history format and the checker; the matrix
// is TestMatrix:
//
//	cd faults && go test -run TestMatrix -short -v
//	go test -run TestMatrix -v -faults.calls=2000 -faults.store=redis -faults.fault=proxy
//
// See docs/reliability.md for the table of the latest run and
// docs/guarantees.md for what each cell proves.
package faults
