package storetest

// Capabilities: the optional idemtype.Lister, idemtype.Sweeper and
// idemtype.Closer.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

func testLister(t *testing.T, s idemtype.Store) {
	l, ok := s.(idemtype.Lister)
	if !ok {
		t.Skip("store does not implement idemtype.Lister")
	}
	for _, k := range []string{"p:1", "p:2", "p:3", "q:1"} {
		mustAcquire(t, s, req(k, longLease))
	}
	// A prefix matches the keys that start with it: itself a whole key,
	// that key; longer than every key, none.
	for prefix, want := range map[string]string{"p:": "p:1 p:2 p:3", "p:1": "p:1", "p:1x": "", "": "p:1 p:2 p:3 q:1"} {
		var got []string
		if err := l.List(ctx(t), prefix, func(r idemtype.Record) bool {
			got = append(got, r.Key)
			return true
		}); err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != want {
			t.Fatalf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
	n := 0
	if err := l.List(ctx(t), "", func(idemtype.Record) bool { n++; return n < 2 }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if n != 2 {
		t.Fatalf("List kept calling after fn returned false: %d calls", n)
	}
}

func testSweeper(t *testing.T, s idemtype.Store) {
	sw, ok := s.(idemtype.Sweeper)
	if !ok {
		t.Skip("store does not implement idemtype.Sweeper")
	}
	for i := range 5 {
		k := fmt.Sprint("short", i)
		r := mustAcquire(t, s, req(k, longLease))
		complete(t, s, k, r.Token, idemtype.StatusCompleted, []byte("v"), shortTTL)
	}
	keep := mustAcquire(t, s, req("keep", longLease))
	complete(t, s, "keep", keep.Token, idemtype.StatusCompleted, []byte("v"), time.Hour)
	time.Sleep(pastTTL)
	n, err := sw.Sweep(ctx(t))
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	// A store may also drop expired records on its own (Redis does).
	if n > 5 {
		t.Fatalf("Sweep removed %d records, want at most the 5 expired", n)
	}
	if g := get(t, s, "keep"); string(g.Value) != "v" {
		t.Fatalf("Sweep removed a live record: %+v", g)
	}
	for i := range 5 {
		wantNotFound(t, s, fmt.Sprint("short", i))
	}
}

// testClose checks the one Close contract of idemtype.Closer: watchers
// woken, every operation after it failing with ErrClosed in an OpError,
// and a second Close returning nil.
func testClose(t *testing.T, s idemtype.Store) {
	c, ok := s.(idemtype.Closer)
	if !ok {
		t.Skip("store does not implement idemtype.Closer")
	}
	r := mustAcquire(t, s, req("k", longLease))
	w, watcher := s.(idemtype.Watcher)
	var woken <-chan struct{}
	if watcher {
		ch, stop, err := w.Watch(ctx(t), "k")
		switch {
		case errors.Is(err, errors.ErrUnsupported):
		case err != nil:
			t.Fatalf("Watch: %v", err)
		default:
			defer stop()
			woken = ch
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if woken != nil {
		select {
		case <-woken:
		case <-time.After(10 * time.Second):
			t.Fatal("a watcher was not woken within 10s of Close")
		}
	}
	ops := []namedOp{
		{"Claim", func(c context.Context) error { _, err := s.Claim(c, req("k2", longLease)); return err }},
		{"Extend", func(c context.Context) error { return s.Extend(c, "k", r.Token, longLease) }},
		{"Complete", func(c context.Context) error {
			return s.Complete(c, "k", r.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, TTL: time.Hour})
		}},
		{"Release", func(c context.Context) error { return s.Release(c, "k", r.Token) }},
		{"Get", func(c context.Context) error { _, err := s.Get(c, "k"); return err }},
		{"Delete", func(c context.Context) error { return s.Delete(c, "k") }},
	}
	if watcher {
		ops = append(ops, namedOp{"Watch", func(c context.Context) error {
			_, stop, err := w.Watch(c, "k")
			if err == nil {
				stop()
			}
			return err
		}})
	}
	if l, ok := s.(idemtype.Lister); ok {
		ops = append(ops, namedOp{"List", func(c context.Context) error {
			return l.List(c, "", func(idemtype.Record) bool { return true })
		}})
	}
	if sw, ok := s.(idemtype.Sweeper); ok {
		ops = append(ops, namedOp{"Sweep", func(c context.Context) error { _, err := sw.Sweep(c); return err }})
	}
	for _, op := range ops {
		err := op.call(ctx(t))
		var oe *idemtype.OpError
		if !errors.Is(err, idemtype.ErrClosed) || !errors.As(err, &oe) || oe.Op == "" {
			t.Errorf("%s after Close = %v; want an *idemtype.OpError naming the operation and matching ErrClosed", op.name, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v; want nil", err)
	}
}

// namedOp is one store operation for a table of them.
type namedOp struct {
	name string
	call func(context.Context) error
}
