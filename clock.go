package idempotency

import "time"

// clock is the time the renewal of leases runs on. It is the real clock
// but in this package's tests, which move a fake one by hand so that
// renewals, lapses and execution limits happen at exact instants whatever
// the load of the machine.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) timer
}

type timer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }
