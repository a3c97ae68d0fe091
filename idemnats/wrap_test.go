package idemnats_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemnats"
	"github.com/idempotency-go/idempotency/internal/teststore"
	"github.com/idempotency-go/idempotency/memstore"
)

// effect is a handler that counts its runs per message (subject and
// data) in e.
func effect(e *teststore.Effects) idemnats.Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		e.Add(msg.Subject() + " " + string(msg.Data()))
		return nil
	}
}

// lostAck is a delivery whose Ack never reaches the server, as when the
// connection drops right after the handler: the server redelivers it.
type lostAck struct{ jetstream.Msg }

func (lostAck) Ack() error { return nil }

func TestRedeliveryRunsOnce(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := b.consumer("billing", 300*time.Millisecond)
	var e teststore.Effects
	h := idemnats.Wrap(teststore.Guard(t, nil, nil), effect(&e), nil)
	b.publish("orders.new", "order-1", "A")
	b.publish("orders.new", "", "B") // keyed by stream sequence

	ctx := context.Background()
	for range 2 {
		if err := h(ctx, lostAck{fetchOne(t, c)}); err != nil {
			t.Fatal(err)
		}
	}
	// Both come again after AckWait; this time they are acked, unrun.
	for range 2 {
		m := fetchOne(t, c)
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if md.NumDelivered != 2 {
			t.Fatalf("delivery %d of %q, want the redelivery", md.NumDelivered, m.Data())
		}
		if err := h(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	settled(t, c)
	e.ExactlyOnce(t, "orders.new A", "orders.new B")
}

func TestConsumerRestartRunsNothingAgain(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	var e teststore.Effects
	g := teststore.Guard(t, nil, nil)
	h := idemnats.Wrap(g, effect(&e), &idemnats.Config{Name: "billing"})
	var want []string
	for i := range 6 {
		id := ""
		if i%2 == 0 {
			id = fmt.Sprintf("order-%d", i)
		}
		b.publish("orders.new", id, fmt.Sprint(i))
		want = append(want, fmt.Sprintf("orders.new %d", i))
	}

	var acked atomic.Int64
	count := func(h idemnats.Handler) idemnats.Handler {
		return func(ctx context.Context, msg jetstream.Msg) error {
			err := h(ctx, msg)
			if err == nil {
				acked.Add(1)
			}
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consume(t, b.consumer("billing-1", 30*time.Second), idemnats.MessageHandler(ctx, count(h)))
	settled(t, b.consumer("billing-1", 30*time.Second))
	e.ExactlyOnce(t, want...)

	// A new consumer (a restart that lost its state, or a replay of the
	// stream) delivers everything again: all acked, nothing run.
	ctx2, cancel2 := context.WithTimeout(context.Background(), bound)
	defer cancel2()
	if err := b.js.DeleteConsumer(ctx2, streamName, "billing-1"); err != nil {
		t.Fatal(err)
	}
	c2 := b.consumer("billing-2", 30*time.Second)
	consume(t, c2, idemnats.MessageHandler(ctx, count(h)))
	settled(t, c2)
	e.ExactlyOnce(t, want...)
	if n := acked.Load(); n != 12 {
		t.Fatalf("%d deliveries acked, want 12", n)
	}
}

// TestCompetingConsumers: two consumers with the same Name each receive
// every message (two consumer groups over one stream) and race on them;
// each message has one effect, and both consumers end with everything
// acked.
func TestCompetingConsumers(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	var e teststore.Effects
	g := teststore.Guard(t, nil, nil)
	slow := func(ctx context.Context, msg jetstream.Msg) error {
		e.Add(msg.Subject() + " " + string(msg.Data()))
		time.Sleep(time.Millisecond) // widen the race a little
		return nil
	}
	h := idemnats.Wrap(g, slow, &idemnats.Config{Name: "billing", BusyDelay: 50 * time.Millisecond})
	var want []string
	for i := range 40 {
		b.publish("orders.new", fmt.Sprintf("order-%d", i), fmt.Sprint(i))
		want = append(want, fmt.Sprintf("orders.new %d", i))
	}
	ctx := context.Background()
	ca, cb := b.consumer("a", 30*time.Second), b.consumer("b", 30*time.Second)
	consume(t, ca, idemnats.MessageHandler(ctx, h))
	consume(t, cb, idemnats.MessageHandler(ctx, h))
	settled(t, ca)
	settled(t, cb)
	e.ExactlyOnce(t, want...)
}

// TestBusyKeyNaksWithDelay: while one consumer runs a message, another
// consumer's delivery of it is nakked with BusyDelay, comes back, and is
// then acked without running.
func TestBusyKeyNaksWithDelay(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	var e teststore.Effects
	entered, release := make(chan struct{}), make(chan struct{})
	h := idemnats.Wrap(teststore.Guard(t, nil, nil), func(ctx context.Context, msg jetstream.Msg) error {
		close(entered)
		<-release
		e.Add(string(msg.Data()))
		return nil
	}, &idemnats.Config{BusyDelay: 100 * time.Millisecond})
	b.publish("orders.new", "order-1", "A")
	ca, cb := b.consumer("a", 30*time.Second), b.consumer("b", 30*time.Second)

	ctx := context.Background()
	first := make(chan error, 1)
	go func() { first <- h(ctx, fetchOne(t, ca)) }()
	select {
	case <-entered:
	case <-time.After(bound):
		t.Fatal("handler did not start")
	}
	if err := h(ctx, fetchOne(t, cb)); !errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("second consumer: %v, want ErrInProgress", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	m := fetchOne(t, cb) // the nakked delivery, back after BusyDelay
	if md, _ := m.Metadata(); md.NumDelivered != 2 {
		t.Fatalf("delivery %d, want the redelivery after the nak", md.NumDelivered)
	}
	if err := h(ctx, m); err != nil {
		t.Fatal(err)
	}
	settled(t, ca)
	settled(t, cb)
	e.ExactlyOnce(t, "A")
}

func TestHandlerFailure(t *testing.T) {
	t.Parallel()
	errDeclined := errors.New("card declined")
	cases := []struct {
		name      string
		guard     *idempotency.Config
		wantRuns  int  // handler runs: the failure, then the retry if any
		redeliver bool // the failed message comes again
	}{
		{"Release: nak, retried", nil, 2, true},
		{"Remember: term, final", &idempotency.Config{OnFailure: idempotency.Remember}, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := startBroker(t)
			cons := b.consumer("billing", 30*time.Second)
			var runs atomic.Int64
			h := idemnats.Wrap(teststore.Guard(t, nil, c.guard), func(ctx context.Context, msg jetstream.Msg) error {
				if runs.Add(1) == 1 {
					return errDeclined
				}
				return nil
			}, nil)
			b.publish("orders.new", "order-1", "A")
			ctx := context.Background()
			if err := h(ctx, fetchOne(t, cons)); !errors.Is(err, errDeclined) {
				t.Fatalf("first delivery: %v, want the handler's error", err)
			}
			if c.redeliver {
				if err := h(ctx, fetchOne(t, cons)); err != nil {
					t.Fatalf("redelivery: %v", err)
				}
			}
			// Settled: a terminated message never comes again.
			settled(t, cons)
			if n := runs.Load(); n != int64(c.wantRuns) {
				t.Fatalf("handler ran %d times, want %d", n, c.wantRuns)
			}
		})
	}
}

func TestStoreDownNaks(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	cons := b.consumer("billing", 30*time.Second)
	store := &teststore.Flaky{Store: teststore.Memory(t)}
	t.Cleanup(func() { _ = store.Store.(*memstore.Store).Close() })
	store.Down.Store(true)
	var e teststore.Effects
	h := idemnats.Wrap(teststore.Guard(t, store, nil), effect(&e), &idemnats.Config{RetryDelay: 50 * time.Millisecond})
	b.publish("orders.new", "order-1", "A")
	ctx := context.Background()
	if err := h(ctx, fetchOne(t, cons)); !errors.Is(err, idempotency.ErrStore) {
		t.Fatalf("store down: %v, want ErrStore", err)
	}
	if got := e.Snapshot(); len(got) != 0 {
		t.Fatalf("handler ran with the store down: %v", got)
	}
	store.Down.Store(false)
	if err := h(ctx, fetchOne(t, cons)); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	settled(t, cons)
	e.ExactlyOnce(t, "orders.new A")
}

// TestNotRecordedAcks: the handler ran but its outcome could not be
// recorded: the message is acked, since a redelivery would run it again.
func TestNotRecordedAcks(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	cons := b.consumer("billing", 300*time.Millisecond)
	store := &teststore.Flaky{Store: teststore.Memory(t)}
	t.Cleanup(func() { _ = store.Store.(*memstore.Store).Close() })
	store.Lossy.Store(true)
	var e teststore.Effects
	h := idemnats.Wrap(teststore.Guard(t, store, nil), effect(&e), nil)
	b.publish("orders.new", "order-1", "A")
	if err := h(context.Background(), fetchOne(t, cons)); !errors.Is(err, idempotency.ErrNotRecorded) {
		t.Fatalf("%v, want ErrNotRecorded", err)
	}
	settled(t, cons)
	e.ExactlyOnce(t, "orders.new A")
}

func TestTerminated(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	cons := b.consumer("billing", 30*time.Second)
	var e teststore.Effects
	orderKey := func(msg jetstream.Msg) (string, error) { return msg.Headers().Get("Order-Id"), nil }
	h := idemnats.Wrap(teststore.Guard(t, nil, nil), effect(&e), &idemnats.Config{Key: orderKey})
	ctx := context.Background()

	b.publish("orders.new", "", "A", "Order-Id", "7")
	if err := h(ctx, fetchOne(t, cons)); err != nil {
		t.Fatal(err)
	}
	b.publish("orders.new", "", "B", "Order-Id", "7") // the same key, other content
	if err := h(ctx, fetchOne(t, cons)); !errors.Is(err, idempotency.ErrKeyReused) {
		t.Fatalf("reused key: %v, want ErrKeyReused", err)
	}
	b.publish("orders.new", "", "C") // no key
	if err := h(ctx, fetchOne(t, cons)); !errors.Is(err, idemnats.ErrNoKey) {
		t.Fatalf("no key: %v, want ErrNoKey", err)
	}
	settled(t, cons) // terminated messages do not come again
	e.ExactlyOnce(t, "orders.new A")
}

func TestMessageKey(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	cons := b.consumer("billing", 30*time.Second)
	b.publish("orders.new", "order-1", "A")
	b.publish("orders.new", "", "B")
	var keys []string
	for range 2 {
		m := fetchOne(t, cons)
		k, err := idemnats.MessageKey(m)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		_ = m.Ack()
	}
	want := []string{"6:ORDERSid:order-1", "6:ORDERSseq:2"}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	if got := idemnats.RecordKey("", "ship", "k"); got != "idemnats:4:shipk" {
		t.Fatalf("RecordKey: %q", got)
	}
}

// TestNamesKeepEffectsApart: two handlers with different effects on the
// same messages, sharing a store, each run once per message.
func TestNamesKeepEffectsApart(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	g := teststore.Guard(t, nil, nil)
	var mail, index teststore.Effects
	hm := idemnats.Wrap(g, effect(&mail), &idemnats.Config{Name: "mail"})
	hi := idemnats.Wrap(g, effect(&index), &idemnats.Config{Name: "index"})
	b.publish("orders.new", "order-1", "A")
	ctx := context.Background()
	for _, c := range []struct {
		consumer string
		h        idemnats.Handler
	}{{"mail", hm}, {"index", hi}, {"mail-replay", hm}} {
		cons := b.consumer(c.consumer, 30*time.Second)
		if err := c.h(ctx, fetchOne(t, cons)); err != nil {
			t.Fatal(err)
		}
		settled(t, cons)
	}
	mail.ExactlyOnce(t, "orders.new A")
	index.ExactlyOnce(t, "orders.new A")
}
