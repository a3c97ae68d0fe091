package idemnats_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemnats"
	"github.com/idempotency-go/idempotency/internal/testchild"
)

// The crash tests re-run this test binary as a consumer process that is
// SIGKILLed at a chosen point. Consumers share a filestore directory; the
// handler's effect is a line in a file, counted from outside the
// processes.
const (
	childEnv   = "IDEMNATS_TEST_CHILD" // the point to stop at: "handler" or "ack"
	envURL     = "IDEMNATS_TEST_URL"
	envStore   = "IDEMNATS_TEST_STORE"
	envEffects = "IDEMNATS_TEST_EFFECTS"
	envMarker  = "IDEMNATS_TEST_MARKER" // the child writes here when it reaches its point

	crashLease   = time.Second // the guard's Lease in every process
	crashAckWait = time.Second
	consumerName = "billing"
)

func crashGuard(t interface{ Cleanup(func()) }, dir string) (*idempotency.Guard, error) {
	store, err := filestore.New(dir, nil)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = store.Close() })
	return idempotency.New(store, &idempotency.Config{Lease: crashLease}), nil
}

// crashHandler's effect is a line naming the process; runs counts them.
func crashHandler(g *idempotency.Guard, who, effects string, runs *atomic.Int64) idemnats.Handler {
	return idemnats.Wrap(g, func(ctx context.Context, msg jetstream.Msg) error {
		runs.Add(1)
		return testchild.AppendLine(effects, who+" "+string(msg.Data()))
	}, &idemnats.Config{Name: consumerName, BusyDelay: 100 * time.Millisecond})
}

// runChild consumes one message and stops forever at its point, waiting
// for the SIGKILL.
func runChild(point string) int {
	var c testchild.Cleanups
	err := child(point, &c)
	c.Run()
	fmt.Fprintln(os.Stderr, "child:", err)
	return 1
}

func child(point string, c *testchild.Cleanups) error {
	nc, err := nats.Connect(os.Getenv(envURL))
	if err != nil {
		return err
	}
	c.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cons, err := js.Consumer(ctx, streamName, consumerName)
	if err != nil {
		return err
	}
	g, err := crashGuard(c, os.Getenv(envStore))
	if err != nil {
		return err
	}
	marker, effects := os.Getenv(envMarker), os.Getenv(envEffects)
	h := crashHandler(g, "child", effects, new(atomic.Int64))
	if point == "handler" {
		h = idemnats.Wrap(g, func(ctx context.Context, msg jetstream.Msg) error {
			if err := testchild.AppendLine(marker, "handler"); err != nil {
				return err
			}
			time.Sleep(time.Hour) // killed here, before the effect
			return nil
		}, &idemnats.Config{Name: consumerName})
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(bound))
	if err != nil {
		return err
	}
	m, ok := <-batch.Messages()
	if !ok {
		return errors.New("no message")
	}
	if point == "ack" {
		m = stuckAck{m, marker}
	}
	return h(context.Background(), m)
}

// stuckAck stops the child after the outcome is recorded and before its
// ack leaves.
type stuckAck struct {
	jetstream.Msg
	marker string
}

func (s stuckAck) Ack() error {
	if err := testchild.AppendLine(s.marker, "ack"); err != nil {
		return err
	}
	time.Sleep(time.Hour) // killed here
	return nil
}

func TestConsumerKilled(t *testing.T) {
	t.Parallel()
	cases := []struct {
		point  string
		effect string // the one effect line
		runs   int64  // handler runs in the surviving consumer
	}{
		// Killed mid-handler, before its effect: the claim lapses with
		// the lease and the redelivery runs the handler, once.
		{"handler", "parent A", 1},
		// Killed after the outcome was recorded, before the ack: the
		// redelivery is acked without running the handler.
		{"ack", "child A", 0},
	}
	for _, c := range cases {
		t.Run(c.point, func(t *testing.T) {
			t.Parallel()
			b := startBroker(t)
			cons := b.consumer(consumerName, crashAckWait)
			dir := t.TempDir()
			storeDir, effects, marker := filepath.Join(dir, "store"), filepath.Join(dir, "effects"), filepath.Join(dir, "marker")
			b.publish("orders.new", "order-1", "A")

			p := testchild.Start(t, testchild.Command("", childEnv+"="+c.point, envURL+"="+b.url(),
				envStore+"="+storeDir, envEffects+"="+effects, envMarker+"="+marker))
			p.WaitFile(t, marker, bound)
			p.Kill(t) // SIGKILL

			g, err := crashGuard(t, storeDir)
			if err != nil {
				t.Fatal(err)
			}
			var runs, acked atomic.Int64
			h := crashHandler(g, "parent", effects, &runs)
			consume(t, cons, idemnats.MessageHandler(context.Background(), func(ctx context.Context, msg jetstream.Msg) error {
				err := h(ctx, msg)
				if err == nil {
					acked.Add(1)
				}
				return err
			}))
			deadline := time.After(bound)
			for acked.Load() == 0 {
				select {
				case <-deadline:
					t.Fatalf("the redelivery was not acked within %v; effects %q", bound, testchild.Lines(t, effects))
				case <-time.After(10 * time.Millisecond):
				}
			}
			settled(t, cons)
			if got := testchild.Lines(t, effects); len(got) != 1 || got[0] != c.effect {
				t.Fatalf("effects %q, want [%q]", got, c.effect)
			}
			if n := runs.Load(); n != c.runs {
				t.Fatalf("the surviving consumer ran the handler %d times, want %d", n, c.runs)
			}
		})
	}
}
