package storetest

// Capabilities: the optional idemtype.Lister and idemtype.Sweeper.

import (
	"fmt"
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
	var got []string
	if err := l.List(ctx(t), "p:", func(r idemtype.Record) bool {
		got = append(got, r.Key)
		return true
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("List(p:) = %q, want the 3 p: keys", got)
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
