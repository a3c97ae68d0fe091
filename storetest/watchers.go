package storetest

// Watchers: the optional idemtype.Watcher capability. A store that has the
// method but cannot watch as configured (notifications turned off) says so
// with an error matching errors.ErrUnsupported, and the case is skipped.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

func testWatcher(t *testing.T, s idemtype.Store) {
	w, ok := s.(idemtype.Watcher)
	if !ok {
		t.Skip("store does not implement idemtype.Watcher")
	}
	r := mustAcquire(t, s, req("k", longLease))
	ch, stop, err := w.Watch(ctx(t), "k")
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("store cannot watch: %v", err)
	}
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(50 * time.Millisecond)
		if err := s.Complete(context.Background(), "k", r.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not woken within 10s of a completion")
	}
	<-done
	stop()
	stop() // twice is fine

	// A release wakes watchers too.
	r2 := mustAcquire(t, s, req("k2", longLease))
	ch2, stop2, err := w.Watch(ctx(t), "k2")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer stop2()
	if err := s.Release(ctx(t), "k2", r2.Token); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch2:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not woken within 10s of a release")
	}

	// So does a delete (an operator forgets a key that waiters wait on).
	mustAcquire(t, s, req("k3", longLease))
	ch3, stop3, err := w.Watch(ctx(t), "k3")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer stop3()
	if err := s.Delete(ctx(t), "k3"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch3:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not woken within 10s of a delete")
	}
}
