//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/filestore"
)

// TestLockBackoff holds a key's lock from outside the store while a writer
// waits for it: the writer polls the flock after 50µs, then twice as long
// each time up to 5ms, and no longer, so that it neither spins on the CPU
// nor oversleeps a lock freed long ago.
func TestLockBackoff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newStoreIn(t, dir, &filestore.Options{NoSync: true, SweepInterval: -1, PollInterval: -1})
	c, err := s.Claim(testCtx(t), claimReq("k"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	var (
		mu    sync.Mutex
		waits []time.Duration
		seen  = make(chan struct{})
	)
	filestore.Backoff(s, func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if waits = append(waits, d); len(waits) == n {
			close(seen)
		}
	})
	release := holdLocks(t, dir)
	done := make(chan error, 1)
	go func() { done <- s.Extend(testCtx(t), "k", c.Record.Token, time.Minute) }()
	select {
	case <-seen:
	case err := <-done:
		t.Fatalf("Extend returned %v while the lock was held", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the writer did not wait 12 times in 20s")
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Extend once the lock is free: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Extend did not return within 20s of the lock being freed")
	}
	us, ms := time.Microsecond, time.Millisecond
	want := []time.Duration{50 * us, 100 * us, 200 * us, 400 * us, 800 * us, 1600 * us, 3200 * us, 5 * ms, 5 * ms, 5 * ms, 5 * ms, 5 * ms}
	mu.Lock()
	defer mu.Unlock()
	if got := waits[:n]; !slices.Equal(got, want) {
		t.Fatalf("waits between tries %v, want %v", got, want)
	}
	for _, d := range waits[n:] {
		if d != 5*ms {
			t.Fatalf("a wait of %v after %d, want 5ms", d, n)
		}
	}
}
