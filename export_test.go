package idempotency

import (
	"sync"
	"testing"
	"time"
)

// FakeClock is a clock moved by hand, for the renewal of leases and for
// stores (memstore.Options.Now): timers fire when Advance passes them, not
// when the machine gets round to it.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// NewFakeClock returns a clock at a fixed instant.
func NewFakeClock() *FakeClock {
	return &FakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *FakeClock) Tick() time.Time { return c.Now() }

func (c *FakeClock) AfterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, f: f, at: c.now.Add(d), active: true}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock by d and runs, on the calling goroutine and in
// order, the callbacks of the timers due by then. It returns how many ran.
// Timers armed by those callbacks run at a later Advance.
func (c *FakeClock) Advance(d time.Duration) int {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if t.active && !t.at.After(c.now) {
			t.active = false
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return len(due)
}

// Armed is how many timers are waiting to fire.
func (c *FakeClock) Armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.active {
			n++
		}
	}
	return n
}

type fakeTimer struct {
	c      *FakeClock
	f      func()
	at     time.Time
	active bool
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.at, t.active = t.c.now.Add(d), true
	return was
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

// NewAt is New with leases renewed on c.
func NewAt(store Store, cfg *Config, c *FakeClock) *Guard {
	g := New(store, cfg)
	g.setClock(c)
	return g
}

// WaitRenewals waits until no renewal of g is in flight: every execution
// that was due has extended its lease and is queued again (or has lost
// its claim). It fails the test after 20s.
func WaitRenewals(t testing.TB, g *Guard) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := 0
		for i := range g.renewals {
			r := &g.renewals[i]
			r.mu.Lock()
			n += r.inflight
			r.mu.Unlock()
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d renewals still in flight after 20s", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// RenewalsArmed reports whether any execution of g is waiting for a
// renewal or being renewed. (A queue's timer may still be pending: it is
// left to fire, to no effect, rather than stopped; it holds g weakly.)
func RenewalsArmed(g *Guard) bool {
	for i := range g.renewals {
		r := &g.renewals[i]
		r.mu.Lock()
		armed := r.head != nil || r.inflight > 0
		r.mu.Unlock()
		if armed {
			return true
		}
	}
	return false
}

// LocalCacheLen is how many outcomes g's local cache holds.
func LocalCacheLen(g *Guard) int { return g.local.len() }
