package idemkafka_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemkafka"
	"github.com/idempotency-go/idempotency/internal/testchild"
)

// The crash tests re-run this test binary as a group member that is
// SIGKILLed at a chosen point. Members share a filestore directory; the
// handler's effect is a line in a file, counted from outside the
// processes.
const (
	childEnv   = "IDEMKAFKA_TEST_CHILD" // the point to stop at: "handler" or "commit"
	envAddrs   = "IDEMKAFKA_TEST_ADDRS"
	envStore   = "IDEMKAFKA_TEST_STORE"
	envEffects = "IDEMKAFKA_TEST_EFFECTS"
	envMarker  = "IDEMKAFKA_TEST_MARKER" // the child writes here when it reaches its point

	crashLease = time.Second // the guard's Lease in every process
	crashGroup = "billing"
)

func crashConsumer(t interface{ Cleanup(func()) }, dir string, h idemkafka.Handler) (*idemkafka.Consumer, error) {
	store, err := filestore.New(dir, nil)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = store.Close() })
	g := idempotency.New(store, &idempotency.Config{Lease: crashLease})
	return idemkafka.New(g, h, &idemkafka.Config{Name: crashGroup, BusyDelay: 100 * time.Millisecond}), nil
}

// runChild joins the group, handles one record and stops forever at its
// point, waiting for the SIGKILL.
func runChild(point string) int {
	var c testchild.Cleanups
	err := child(point, &c)
	c.Run()
	fmt.Fprintln(os.Stderr, "child:", err)
	return 1
}

func child(point string, c *testchild.Cleanups) error {
	cl, err := kgo.NewClient(memberOpts(strings.Split(os.Getenv(envAddrs), ","), crashGroup)...)
	if err != nil {
		return err
	}
	c.Cleanup(cl.Close)
	marker, effects := os.Getenv(envMarker), os.Getenv(envEffects)
	h := func(ctx context.Context, r *kgo.Record) error {
		if point == "handler" {
			if err := testchild.AppendLine(marker, "handler"); err != nil {
				return err
			}
			time.Sleep(time.Hour) // killed here, before the effect
		}
		return testchild.AppendLine(effects, "child "+string(r.Value))
	}
	cons, err := crashConsumer(c, os.Getenv(envStore), h)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for ctx.Err() == nil {
		for _, r := range cl.PollFetches(ctx).Records() {
			if err := cons.Handle(ctx, r); err != nil {
				return err
			}
			// Recorded; killed here, before the commit.
			if err := testchild.AppendLine(marker, "commit"); err != nil {
				return err
			}
			time.Sleep(time.Hour)
		}
	}
	return errors.New("no record")
}

func TestMemberKilled(t *testing.T) {
	t.Parallel()
	cases := []struct {
		point  string
		effect string // the one effect line
	}{
		// Killed mid-handler, before its effect: the claim lapses with
		// the lease and the next member runs the handler, once.
		{"handler", "parent A"},
		// Killed after the outcome was recorded, before the commit: the
		// next member commits the record without running the handler.
		{"commit", "child A"},
	}
	for _, tc := range cases {
		t.Run(tc.point, func(t *testing.T) {
			t.Parallel()
			c := startCluster(t, 1)
			end := c.produce(record("A"))
			dir := t.TempDir()
			storeDir, effects, marker := filepath.Join(dir, "store"), filepath.Join(dir, "effects"), filepath.Join(dir, "marker")

			p := testchild.Start(t, testchild.Command("", childEnv+"="+tc.point, envAddrs+"="+strings.Join(c.addrs, ","),
				envStore+"="+storeDir, envEffects+"="+effects, envMarker+"="+marker))
			p.WaitFile(t, marker, bound)
			p.Kill(t) // SIGKILL
			if got := c.committed(crashGroup); len(got) != 0 {
				t.Fatalf("committed %v before the crash", got)
			}

			cons, err := crashConsumer(t, storeDir, func(ctx context.Context, r *kgo.Record) error {
				return testchild.AppendLine(effects, "parent "+string(r.Value))
			})
			if err != nil {
				t.Fatal(err)
			}
			run(t, cons, c.member(crashGroup))
			c.waitCommitted(crashGroup, end)
			if got := testchild.Lines(t, effects); len(got) != 1 || got[0] != tc.effect {
				t.Fatalf("effects %q, want [%q]", got, tc.effect)
			}
		})
	}
}
