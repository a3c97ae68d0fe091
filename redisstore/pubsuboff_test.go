package redisstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
)

// countingWatcher counts the Watch calls a guard makes to a Store.
type countingWatcher struct {
	*redisstore.Store
	watches atomic.Int64
}

func (c *countingWatcher) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	c.watches.Add(1)
	return c.Store.Watch(ctx, key)
}

// TestGuardWithoutPubSub: on a Store with notifications off, Watch fails
// with an error matching errors.ErrUnsupported, and a waiting duplicate
// still gets the first call's result by polling.
func TestGuardWithoutPubSub(t *testing.T) {
	t.Parallel()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	s := &countingWatcher{Store: newStore(t, c, &redisstore.Options{PubSub: redisstore.PubSubOff})}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := s.Store.Watch(ctx, "k"); !errors.Is(err, errors.ErrUnsupported) || !errors.Is(err, redisstore.ErrNoPubSub) {
		t.Fatalf("Watch with notifications off = %v; want ErrNoPubSub, matching errors.ErrUnsupported", err)
	}
	s.watches.Store(0)
	g := idempotency.New(s, &idempotency.Config{Lease: time.Minute, OnDuplicate: idempotency.Wait})
	started, finish := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := idempotency.Do(ctx, g, "k", func(context.Context) (string, error) {
			close(started)
			<-finish
			return "first", nil
		})
		done <- err
	}()
	<-started
	got := make(chan string, 1)
	var runs atomic.Int64
	go func() {
		v, err := idempotency.Do(ctx, g, "k", func(context.Context) (string, error) { runs.Add(1); return "second", nil })
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	// Let the duplicate wait (it polls) before the first call finishes.
	for deadline := time.Now().Add(10 * time.Second); s.watches.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != "first" || runs.Load() != 0 {
		t.Fatalf("duplicate got %q (fn ran %d times); want the first call's result", v, runs.Load())
	}
	// Told errors.ErrUnsupported once, the guard stops asking.
	if n := s.watches.Load(); n != 1 {
		t.Fatalf("the guard called Watch %d times, want 1", n)
	}
}
