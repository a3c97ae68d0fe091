package redisstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
)

// TestWatchSubscriptionsCounted: watches of one key share one subscription
// of its channel, held while any of them is: stopping one leaves the
// others subscribed, stopping the last unsubscribes. The server's own
// list of channels (PUBSUB CHANNELS) is the witness. The hub's connection
// runs its commands in order and a Watch returns once the server confirmed
// its subscription, so a Watch of another key after a stop orders the two:
// whatever the stop sent has been run by then.
func TestWatchSubscriptionsCounted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	p := prefix(t)
	s := newStore(t, c, &redisstore.Options{Prefix: p})
	channels := func() []string {
		t.Helper()
		chs, err := c.PubSubChannels(ctx, p+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(chs)
		return chs
	}
	watch := func(key string) func() {
		t.Helper()
		_, stop, err := s.Watch(ctx, key)
		if err != nil {
			t.Fatalf("Watch(%s): %v", key, err)
		}
		return stop
	}
	stopA := watch("k")
	stopB := watch("k")
	if n := len(channels()); n != 1 {
		t.Fatalf("two watches of one key: %d channels subscribed, want 1", n)
	}
	stopA()
	stopOther := watch("other") // orders the stop before the listing
	if n := len(channels()); n != 2 {
		t.Fatalf("one of two watches stopped: %d channels subscribed, want 2 (k and other): %q", n, channels())
	}
	stopB()
	stopOther()
	for len(channels()) != 0 {
		if ctx.Err() != nil {
			t.Fatalf("every watch stopped: still subscribed to %q", channels())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopC := watch("k") // a key watched again is subscribed again
	defer stopC()
	if n := len(channels()); n != 1 {
		t.Fatalf("a key watched again: %d channels subscribed, want 1", n)
	}
}
