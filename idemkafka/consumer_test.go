package idemkafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemkafka"
	"github.com/idempotency-go/idempotency/internal/teststore"
	"github.com/idempotency-go/idempotency/memstore"
)

// TestLostCommitRunsOnce: a member handles every record but its commits
// are lost (it dies first); the group's next member gets them all again,
// commits them, and runs none.
func TestLostCommitRunsOnce(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	var want []string
	var recs []*kgo.Record
	for i := range 6 {
		want = append(want, fmt.Sprint(i))
		recs = append(recs, record(fmt.Sprint(i)))
	}
	end := c.produce(recs...)
	g := teststore.Guard(t, nil, nil)
	var e teststore.Effects
	cons := idemkafka.New(g, effect(&e), nil)

	first := c.member("billing")
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for n := 0; n < len(recs); {
		fetches := first.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("polled %d records within %v, want %d", n, bound, len(recs))
		}
		for _, r := range fetches.Records() {
			if err := cons.Handle(ctx, r); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	first.Close() // no commit
	if got := c.committed("billing"); len(got) != 0 {
		t.Fatalf("committed %v before any commit", got)
	}
	e.ExactlyOnce(t, want...)

	var reruns atomic.Int64
	second := idemkafka.New(g, func(ctx context.Context, r *kgo.Record) error { reruns.Add(1); return nil }, nil)
	run(t, second, c.member("billing"))
	c.waitCommitted("billing", end)
	if n := reruns.Load(); n != 0 {
		t.Fatalf("the next member ran %d handled records again", n)
	}
}

// TestGroupsRacing: two consumer groups with the same Name read every
// record and race on them: one effect per record, and both groups commit
// everything.
func TestGroupsRacing(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	var want []string
	var recs []*kgo.Record
	for i := range 40 {
		want = append(want, fmt.Sprint(i))
		recs = append(recs, record(fmt.Sprint(i)))
	}
	end := c.produce(recs...)
	g := teststore.Guard(t, nil, nil)
	var e teststore.Effects
	h := func(ctx context.Context, r *kgo.Record) error {
		e.Add(string(r.Value))
		time.Sleep(time.Millisecond) // widen the race a little
		return nil
	}
	cfg := &idemkafka.Config{Name: "billing", BusyDelay: 20 * time.Millisecond}
	run(t, idemkafka.New(g, h, cfg), c.member("a"))
	run(t, idemkafka.New(g, h, cfg), c.member("b"))
	c.waitCommitted("a", end)
	c.waitCommitted("b", end)
	e.ExactlyOnce(t, want...)
}

// TestBusyKeyNotCommitted: while group a runs a record, group b finds its
// key busy and neither handles nor commits it, even when it stops; once a
// is done, b's next member commits it without running it.
func TestBusyKeyNotCommitted(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 1)
	end := c.produce(record("A"), record("B"))
	busy := make(chan struct{})
	var once sync.Once
	g := teststore.Guard(t, nil, &idempotency.Config{Observer: idempotency.ObserverFunc(func(ctx context.Context, e idempotency.Event) {
		if e.Kind == idempotency.EventConflict && errors.Is(e.Err, idempotency.ErrInProgress) {
			once.Do(func() { close(busy) })
		}
	})})
	var e teststore.Effects
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(ctx context.Context, r *kgo.Record) error {
		if string(r.Value) == "A" {
			close(entered)
			<-release
		}
		e.Add(string(r.Value))
		return nil
	}
	cfg := &idemkafka.Config{BusyDelay: 20 * time.Millisecond}
	run(t, idemkafka.New(g, slow, cfg), c.member("a"))
	select {
	case <-entered:
	case <-time.After(bound):
		t.Fatal("group a did not start the handler")
	}
	memberB := c.member("b")
	stopB := run(t, idemkafka.New(g, slow, cfg), memberB)
	select {
	case <-busy:
	case <-time.After(bound):
		t.Fatal("group b never found the key busy")
	}
	if got := c.committed("b"); len(got) != 0 {
		t.Fatalf("group b committed %v while the key was busy", got)
	}
	// A member that stops while the key is busy commits nothing either.
	stopB()
	memberB.Close() // leaves the group
	if got := c.committed("b"); len(got) != 0 {
		t.Fatalf("group b committed %v on stopping while the key was busy", got)
	}
	close(release)
	run(t, idemkafka.New(g, slow, cfg), c.member("b"))
	c.waitCommitted("a", end)
	c.waitCommitted("b", end)
	e.ExactlyOnce(t, "A", "B")
}

func TestHandlerFailure(t *testing.T) {
	t.Parallel()
	errDeclined := errors.New("card declined")
	cases := []struct {
		name  string
		guard *idempotency.Config
		runs  int64 // the failure, then the retry if any
		skips int64
	}{
		{"Release: retried", nil, 2, 0},
		{"Remember: skipped", &idempotency.Config{OnFailure: idempotency.Remember}, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startCluster(t, 1)
			end := c.produce(record("A"), record("B"))
			var runs, skips atomic.Int64
			h := func(ctx context.Context, r *kgo.Record) error {
				if string(r.Value) == "A" && runs.Add(1) == 1 {
					return errDeclined
				}
				return nil
			}
			cons := idemkafka.New(teststore.Guard(t, nil, tc.guard), h, &idemkafka.Config{
				RetryDelay: 20 * time.Millisecond,
				OnSkip: func(ctx context.Context, r *kgo.Record, err error) {
					if errors.Is(err, idemkafka.ErrSkip) && errors.Is(err, errDeclined) {
						skips.Add(1)
					}
				},
			})
			run(t, cons, c.member("billing"))
			c.waitCommitted("billing", end)
			if runs.Load() != tc.runs || skips.Load() != tc.skips {
				t.Fatalf("record A ran %d times and was skipped %d times, want %d and %d", runs.Load(), skips.Load(), tc.runs, tc.skips)
			}
		})
	}
}

func TestStoreFailures(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 1)
	end := c.produce(record("A"))
	store := &teststore.Flaky{Store: teststore.Memory(t)}
	t.Cleanup(func() { _ = store.Store.(*memstore.Store).Close() })
	var e teststore.Effects
	cons := idemkafka.New(teststore.Guard(t, store, nil), effect(&e), nil)
	member := c.member("billing")
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	var r *kgo.Record
	for r == nil && ctx.Err() == nil {
		if rs := member.PollFetches(ctx).Records(); len(rs) > 0 {
			r = rs[0]
		}
	}

	store.Down.Store(true)
	if err := cons.Handle(ctx, r); !errors.Is(err, idempotency.ErrStore) || errors.Is(err, idemkafka.ErrSkip) {
		t.Fatalf("store down: %v, want ErrStore, not skipped", err)
	}
	e.ExactlyOnce(t) // not run
	store.Down.Store(false)

	store.Lossy.Store(true)
	if err := cons.Handle(ctx, r); !errors.Is(err, idempotency.ErrNotRecorded) {
		t.Fatalf("outcome lost: %v, want ErrNotRecorded", err)
	}
	e.ExactlyOnce(t, "A")
	store.Lossy.Store(false)

	// Run commits a record whose outcome was lost rather than run it
	// again, and one whose store was down once it is up.
	member.Close()
	store.Lossy.Store(true)
	var reruns atomic.Int64
	run(t, idemkafka.New(teststore.Guard(t, store, nil), func(context.Context, *kgo.Record) error { reruns.Add(1); return nil },
		&idemkafka.Config{Name: "other"}), c.member("billing"))
	c.waitCommitted("billing", end)
	if n := reruns.Load(); n != 1 {
		t.Fatalf("ran %d times, want 1", n)
	}
}

func TestHeaderKey(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 1)
	end := c.produce(
		record("A", "Order-Id", "7"),
		record("A", "Order-Id", "7"), // produced twice
		record("B", "Order-Id", "7"), // the same key, other content
		record("C"),                  // no key
		record("D", "Order-Id", "8"),
	)
	var e teststore.Effects
	var mu sync.Mutex
	var skipped []error
	cons := idemkafka.New(teststore.Guard(t, nil, nil), effect(&e), &idemkafka.Config{
		Header: "Order-Id",
		OnSkip: func(ctx context.Context, r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			skipped = append(skipped, err)
		},
	})
	run(t, cons, c.member("billing"))
	c.waitCommitted("billing", end)
	e.ExactlyOnce(t, "A", "D")
	mu.Lock()
	defer mu.Unlock()
	if len(skipped) != 2 || !errors.Is(skipped[0], idempotency.ErrKeyReused) || !errors.Is(skipped[1], idemkafka.ErrNoKey) {
		t.Fatalf("skipped %v, want ErrKeyReused then ErrNoKey", skipped)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	r := &kgo.Record{Topic: "orders", Partition: 3, Offset: 42}
	if got := idemkafka.OffsetKey(r); got != "6:orders3@42" {
		t.Fatalf("OffsetKey: %q", got)
	}
	if got := idemkafka.RecordKey("", "ship", "k"); got != "idemkafka:4:shipk" {
		t.Fatalf("RecordKey: %q", got)
	}
}
