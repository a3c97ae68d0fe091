package storetest

// Claims: a new key is acquired once; duplicates see the live record.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

func testClaimNewKey(t *testing.T, s idemtype.Store) {
	before := time.Now()
	r := mustAcquire(t, s, idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: longLease, TTL: time.Hour})
	if r.Key != "k" || r.Fingerprint != "fp" || r.Status != idemtype.StatusInProgress || r.Token == 0 || len(r.Value) != 0 {
		t.Fatalf("new claim record = %+v", r)
	}
	// Stores judge time on their own clock; allow a generous skew.
	if r.LeaseUntil.Before(before.Add(longLease/2)) || r.LeaseUntil.After(before.Add(2*longLease)) {
		t.Fatalf("LeaseUntil = %v, want about %v from %v", r.LeaseUntil, longLease, before)
	}
	if r.ExpiresAt.IsZero() {
		t.Fatal("in-progress record with a TTL has no ExpiresAt")
	}
	if g := get(t, s, "k"); g.Token != r.Token || g.Status != idemtype.StatusInProgress {
		t.Fatalf("Get after claim = %+v, want token %d in progress", g, r.Token)
	}
}

func testDuplicateSeesInProgress(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	c := mustNotAcquire(t, s, req("k", longLease))
	if c.Record.Token != r.Token || c.Record.Status != idemtype.StatusInProgress || c.TookOver || c.Abandoned {
		t.Fatalf("duplicate claim = %+v, want the in-progress record with token %d", c, r.Token)
	}
}

func testDuplicateSeesCompleted(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte(`{"id":1}`), time.Hour)
	c := mustNotAcquire(t, s, req("k", longLease))
	if c.Record.Status != idemtype.StatusCompleted || string(c.Record.Value) != `{"id":1}` || c.Record.Token != r.Token {
		t.Fatalf("duplicate claim after completion = %+v", c.Record)
	}
}

func testDuplicateSeesFailed(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	complete(t, s, "k", r.Token, idemtype.StatusFailed, []byte("boom"), time.Hour)
	c := mustNotAcquire(t, s, req("k", longLease))
	if c.Record.Status != idemtype.StatusFailed || string(c.Record.Value) != "boom" {
		t.Fatalf("duplicate claim after failure = %+v", c.Record)
	}
}

func testOneWinner(t *testing.T, s idemtype.Store) {
	const n = 100
	var wg sync.WaitGroup
	results := make([]idemtype.Claim, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = s.Claim(context.Background(), req("race", longLease))
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	var tok idemtype.Token
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("claim %d: %v", i, errs[i])
		}
		if results[i].Acquired {
			winners++
			tok = results[i].Record.Token
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent claims acquired the key, want 1", winners, n)
	}
	for i := range n {
		if !results[i].Acquired && results[i].Record.Token != tok {
			t.Fatalf("loser %d saw token %d, winner has %d", i, results[i].Record.Token, tok)
		}
	}
}

func testManyKeys(t *testing.T, s idemtype.Store) {
	const keys, workers = 200, 8
	var mu sync.Mutex
	won := make(map[string]int)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				k := fmt.Sprintf("key-%d", (i+w*25)%keys)
				c, err := s.Claim(context.Background(), req(k, longLease))
				if err != nil {
					t.Error(err)
					return
				}
				if c.Acquired {
					mu.Lock()
					won[k]++
					mu.Unlock()
					if err := s.Complete(context.Background(), k, c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(k), TTL: time.Hour}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(won) != keys {
		t.Fatalf("%d keys claimed, want %d", len(won), keys)
	}
	for k, n := range won {
		if n != 1 {
			t.Fatalf("key %s claimed %d times", k, n)
		}
		if g := get(t, s, k); string(g.Value) != k {
			t.Fatalf("key %s has value %q", k, g.Value)
		}
	}
}

func testCancelledContext(t *testing.T, s idemtype.Store) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if cl, err := s.Claim(c, req("k", longLease)); err == nil && cl.Acquired {
		// Stores may finish an operation that no longer blocks; the
		// record must then be real.
		if g := get(t, s, "k"); g.Token != cl.Record.Token {
			t.Fatalf("claim under a cancelled context acquired token %d, store has %+v", cl.Record.Token, g)
		}
	}
}
