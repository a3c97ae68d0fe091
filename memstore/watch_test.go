package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
)

// A key's watch entry lives while someone watches it: the last stop
// forgets it (waiters that give up must not leave memory behind), an
// earlier stop leaves it to the other watchers, whom the next change of
// the record still wakes.
func TestWatchEntryLivesUntilTheLastStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := oneShard(t)
	tok := claim(t, s, "k")

	ch1, stop1, err := s.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	ch2, stop2, err := s.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if n := memstore.Watchers(s); n != 1 {
		t.Fatalf("two watches of one key: %d watch entries, want 1", n)
	}
	stop1()
	stop1() // a second stop of the same watch counts once
	if n := memstore.Watchers(s); n != 1 {
		t.Fatalf("one of two watches stopped: %d watch entries, want 1", n)
	}
	if err := s.Complete(ctx, "k", tok, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []<-chan struct{}{ch1, ch2} {
		select {
		case <-ch:
		default:
			t.Fatalf("watch %d not woken by the completion", i+1)
		}
	}
	stop2()

	// Watches that see no change: the last stop removes the entry.
	_, stop3, err := s.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	_, stop4, err := s.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	stop3()
	if n := memstore.Watchers(s); n != 1 {
		t.Fatalf("one of two watches stopped: %d watch entries, want 1", n)
	}
	stop4()
	if n := memstore.Watchers(s); n != 0 {
		t.Fatalf("every watch stopped: %d watch entries left, want 0", n)
	}
}
