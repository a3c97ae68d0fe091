package idempotency

import "time"

// clock is the time the renewal of leases runs on. It is the real clock
// but in this package's tests, which move a fake one by hand so that
// renewals, lapses and execution limits happen at exact instants whatever
// the load of the machine.
type clock interface {
	Now() time.Time
	// Tick is Now for the start of an execution's renewals: a reading
	// compared only with other readings of this clock, by its monotonic
	// part, which the real clock gets with one read of the system clock
	// rather than two.
	Tick() time.Time
	AfterFunc(d time.Duration, f func()) timer
}

type timer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// tickEpoch is where realClock's ticks count from.
var tickEpoch = time.Now()

// Tick is tickEpoch plus the monotonic time since: its wall time does not
// follow steps of the wall clock, which no comparison with another reading
// of the clock uses (both have monotonic readings).
func (realClock) Tick() time.Time { return tickEpoch.Add(time.Since(tickEpoch)) }

func (realClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }
