package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// Run runs every conformance case as a parallel subtest. newStore must
// return a fresh store for each case; it may register cleanups with t.
func Run(t *testing.T, newStore func(t *testing.T) idemtype.Store) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore(t))
		})
	}
}

// Durations the cases use. A short lease is long enough for a claim and a
// few calls to finish before it lapses on any sane store, and short enough
// to wait out.
const (
	longLease  = time.Minute
	shortLease = 500 * time.Millisecond
	lapse      = 1200 * time.Millisecond // sleep that outlasts shortLease
	shortTTL   = time.Second
	pastTTL    = 2200 * time.Millisecond // sleep that outlasts shortTTL
)

var cases = []struct {
	name string
	run  func(t *testing.T, s idemtype.Store)
}{
	{"ClaimNewKey", testClaimNewKey},
	{"DuplicateSeesInProgress", testDuplicateSeesInProgress},
	{"DuplicateSeesCompleted", testDuplicateSeesCompleted},
	{"DuplicateSeesFailed", testDuplicateSeesFailed},
	{"OneWinnerAmongConcurrentClaims", testOneWinner},
	{"NoTakeoverBeforeLease", testNoTakeoverBeforeLease},
	{"TakeoverAfterLease", testTakeoverAfterLease},
	{"TakeoverDisabled", testTakeoverDisabled},
	{"TakeoverNeedsSameFingerprint", testTakeoverFingerprint},
	{"OneWinnerAmongConcurrentTakeovers", testOneTakeoverWinner},
	{"StaleTokenRejected", testStaleToken},
	{"UnknownKeyRejected", testUnknownKey},
	{"ExtendMovesLease", testExtend},
	{"ReleaseFreesKey", testRelease},
	{"CompletedIsFinal", testCompletedIsFinal},
	{"TTLExpiry", testTTLExpiry},
	{"InProgressTTLExpiry", testInProgressTTLExpiry},
	{"NoExpiry", testNoExpiry},
	{"GetAndDelete", testGetDelete},
	{"DeleteFencesExecutor", testDeleteFences},
	{"FingerprintKept", testFingerprintKept},
	{"OddKeysNeverCollide", testOddKeys},
	{"LargeValue", testLargeValue},
	{"EmptyValue", testEmptyValue},
	{"ManyKeysConcurrently", testManyKeys},
	{"CancelledContext", testCancelledContext},
	{"Watcher", testWatcher},
	{"Lister", testLister},
	{"Sweeper", testSweeper},
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func req(key string, lease time.Duration) idemtype.ClaimRequest {
	return idemtype.ClaimRequest{Key: key, Lease: lease, TTL: time.Hour, Takeover: true}
}

func claim(t *testing.T, s idemtype.Store, r idemtype.ClaimRequest) idemtype.Claim {
	t.Helper()
	c, err := s.Claim(ctx(t), r)
	if err != nil {
		t.Fatalf("Claim(%q): %v", r.Key, err)
	}
	return c
}

func mustAcquire(t *testing.T, s idemtype.Store, r idemtype.ClaimRequest) idemtype.Record {
	t.Helper()
	c := claim(t, s, r)
	if !c.Acquired {
		t.Fatalf("Claim(%q) not acquired; record %+v", r.Key, c.Record)
	}
	return c.Record
}

func mustNotAcquire(t *testing.T, s idemtype.Store, r idemtype.ClaimRequest) idemtype.Claim {
	t.Helper()
	c := claim(t, s, r)
	if c.Acquired {
		t.Fatalf("Claim(%q) acquired again with token %d", r.Key, c.Record.Token)
	}
	return c
}

func complete(t *testing.T, s idemtype.Store, key string, tok idemtype.Token, status idemtype.Status, value []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Complete(ctx(t), key, tok, idemtype.Outcome{Status: status, Value: value, TTL: ttl}); err != nil {
		t.Fatalf("Complete(%q, %d): %v", key, tok, err)
	}
}

func get(t *testing.T, s idemtype.Store, key string) idemtype.Record {
	t.Helper()
	r, err := s.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return r
}

func wantNotFound(t *testing.T, s idemtype.Store, key string) {
	t.Helper()
	if r, err := s.Get(ctx(t), key); !errors.Is(err, idemtype.ErrNotFound) {
		t.Fatalf("Get(%q) = %+v, %v; want ErrNotFound", key, r, err)
	}
}

func wantLeaseLost(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, idemtype.ErrLeaseLost) {
		t.Fatalf("%s = %v; want ErrLeaseLost", what, err)
	}
}

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

func testNoTakeoverBeforeLease(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	c := mustNotAcquire(t, s, req("k", longLease))
	if c.Abandoned || c.Record.Token != r.Token {
		t.Fatalf("claim during a live lease = %+v", c)
	}
	// Most of a lease gone is not a lapse: a store that counted the lease
	// short (half of it, or in other units) takes over here.
	const lease = 3 * time.Second
	r = mustAcquire(t, s, req("k2", lease))
	time.Sleep(lease * 6 / 10)
	c = mustNotAcquire(t, s, req("k2", longLease))
	if c.Abandoned || c.Record.Token != r.Token {
		t.Fatalf("claim at 60%% of a lease = %+v", c)
	}
}

func testTakeoverAfterLease(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", shortLease))
	time.Sleep(lapse)
	c := claim(t, s, req("k", longLease))
	if !c.Acquired || !c.TookOver {
		t.Fatalf("claim after the lease lapsed = %+v, want a takeover", c)
	}
	if c.Record.Token <= r.Token {
		t.Fatalf("takeover token %d, want larger than %d", c.Record.Token, r.Token)
	}
	if c.Record.Status != idemtype.StatusInProgress || c.Record.LeaseUntil.Before(time.Now().Add(longLease/2)) {
		t.Fatalf("takeover record = %+v", c.Record)
	}
	mustNotAcquire(t, s, req("k", longLease))
}

func testTakeoverDisabled(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", shortLease))
	time.Sleep(lapse)
	noTake := req("k", longLease)
	noTake.Takeover = false
	c := mustNotAcquire(t, s, noTake)
	if !c.Abandoned || c.Record.Token != r.Token || c.Record.Status != idemtype.StatusInProgress {
		t.Fatalf("claim without takeover after lapse = %+v, want Abandoned with token %d", c, r.Token)
	}
	// The lapsed owner may still finish: nobody took over.
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("late"), time.Hour)
	if g := get(t, s, "k"); string(g.Value) != "late" {
		t.Fatalf("late completion by the only owner lost: %+v", g)
	}
}

func testTakeoverFingerprint(t *testing.T, s idemtype.Store) {
	a := req("k", shortLease)
	a.Fingerprint = "A"
	r := mustAcquire(t, s, a)
	time.Sleep(lapse)
	b := req("k", longLease)
	b.Fingerprint = "B"
	c := mustNotAcquire(t, s, b)
	if c.Record.Fingerprint != "A" || c.Record.Token != r.Token {
		t.Fatalf("claim with another fingerprint = %+v", c)
	}
}

func testOneTakeoverWinner(t *testing.T, s idemtype.Store) {
	mustAcquire(t, s, req("k", shortLease))
	time.Sleep(lapse)
	const n = 50
	var mu sync.Mutex
	winners := 0
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.Claim(context.Background(), req("k", longLease))
			if err != nil {
				t.Error(err)
				return
			}
			if c.Acquired {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d concurrent takeovers won, want 1", winners)
	}
}

func testStaleToken(t *testing.T, s idemtype.Store) {
	old := mustAcquire(t, s, req("k", shortLease))
	time.Sleep(lapse)
	cur := mustAcquire(t, s, req("k", longLease))
	c := ctx(t)
	wantLeaseLost(t, "Complete with a stale token", s.Complete(c, "k", old.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("stale"), TTL: time.Hour}))
	wantLeaseLost(t, "Extend with a stale token", s.Extend(c, "k", old.Token, longLease))
	wantLeaseLost(t, "Release with a stale token", s.Release(c, "k", old.Token))
	g := get(t, s, "k")
	if g.Token != cur.Token || g.Status != idemtype.StatusInProgress || len(g.Value) != 0 {
		t.Fatalf("record after stale writes = %+v, want the new owner's in-progress record", g)
	}
	complete(t, s, "k", cur.Token, idemtype.StatusCompleted, []byte("new"), time.Hour)
	wantLeaseLost(t, "Complete with a stale token after completion", s.Complete(c, "k", old.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("stale")}))
	// A completed record belongs to nobody: even its own token cannot
	// write it again.
	wantLeaseLost(t, "second Complete", s.Complete(c, "k", cur.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("again")}))
	wantLeaseLost(t, "Release after Complete", s.Release(c, "k", cur.Token))
	wantLeaseLost(t, "Extend after Complete", s.Extend(c, "k", cur.Token, longLease))
	if g := get(t, s, "k"); string(g.Value) != "new" || g.Status != idemtype.StatusCompleted {
		t.Fatalf("record = %+v, want the new owner's value", g)
	}
}

func testUnknownKey(t *testing.T, s idemtype.Store) {
	c := ctx(t)
	wantLeaseLost(t, "Complete of a missing key", s.Complete(c, "missing", 1, idemtype.Outcome{Status: idemtype.StatusCompleted}))
	wantLeaseLost(t, "Extend of a missing key", s.Extend(c, "missing", 1, longLease))
	wantLeaseLost(t, "Release of a missing key", s.Release(c, "missing", 1))
	wantNotFound(t, s, "missing")
	r := mustAcquire(t, s, req("k", longLease))
	wantLeaseLost(t, "Complete with a made-up token", s.Complete(c, "k", r.Token+1000, idemtype.Outcome{Status: idemtype.StatusCompleted}))
}

func testExtend(t *testing.T, s idemtype.Store) {
	lease := 2 * shortLease
	r := mustAcquire(t, s, req("k", lease))
	// Keep renewing past several leases: nobody may take over.
	noTake := req("k", lease)
	noTake.Takeover = false
	deadline := time.Now().Add(3 * lease)
	for time.Now().Before(deadline) {
		if err := s.Extend(ctx(t), "k", r.Token, lease); err != nil {
			t.Fatalf("Extend: %v", err)
		}
		time.Sleep(lease / 10)
		if c := mustNotAcquire(t, s, noTake); c.Abandoned || c.Record.Token != r.Token {
			t.Fatalf("renewed claim reported abandoned or replaced: %+v", c)
		}
	}
	if err := s.Extend(ctx(t), "k", r.Token, longLease); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if g := get(t, s, "k"); g.LeaseUntil.Before(time.Now().Add(longLease / 2)) {
		t.Fatalf("LeaseUntil %v after Extend(%v)", g.LeaseUntil, longLease)
	}
}

func testRelease(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	if err := s.Release(ctx(t), "k", r.Token); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantNotFound(t, s, "k")
	r2 := mustAcquire(t, s, req("k", longLease))
	if r2.Token <= r.Token {
		t.Fatalf("token after release %d, want larger than %d", r2.Token, r.Token)
	}
	wantLeaseLost(t, "Release twice", s.Release(ctx(t), "k", r.Token))
}

func testCompletedIsFinal(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", shortLease))
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), time.Hour)
	time.Sleep(lapse) // a completed record has no lease to lapse
	c := mustNotAcquire(t, s, req("k", longLease))
	if c.Abandoned || c.TookOver || string(c.Record.Value) != "v" {
		t.Fatalf("claim of a completed key after its lease = %+v", c)
	}
}

func testTTLExpiry(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), shortTTL)
	if g := get(t, s, "k"); g.ExpiresAt.IsZero() {
		t.Fatalf("completed record with TTL has no ExpiresAt: %+v", g)
	}
	time.Sleep(pastTTL)
	wantNotFound(t, s, "k")
	r2 := mustAcquire(t, s, req("k", longLease))
	if r2.Token <= r.Token {
		t.Fatalf("token after expiry %d, want larger than %d", r2.Token, r.Token)
	}
	wantLeaseLost(t, "Complete by the expired owner", s.Complete(ctx(t), "k", r.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}))
}

func testInProgressTTLExpiry(t *testing.T, s idemtype.Store) {
	r := idemtype.ClaimRequest{Key: "k", Lease: longLease, TTL: shortTTL, Takeover: false}
	first := mustAcquire(t, s, r)
	time.Sleep(pastTTL)
	second := mustAcquire(t, s, r)
	if second.Token <= first.Token {
		t.Fatalf("token after in-progress expiry %d, want larger than %d", second.Token, first.Token)
	}
	wantLeaseLost(t, "Complete by the expired owner", s.Complete(ctx(t), "k", first.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}))
}

func testNoExpiry(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, idemtype.ClaimRequest{Key: "k", Lease: longLease, TTL: -1})
	if !r.ExpiresAt.IsZero() {
		t.Fatalf("claim with TTL -1 has ExpiresAt %v", r.ExpiresAt)
	}
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), -1)
	if g := get(t, s, "k"); !g.ExpiresAt.IsZero() || string(g.Value) != "v" {
		t.Fatalf("record kept forever = %+v", g)
	}
}

func testGetDelete(t *testing.T, s idemtype.Store) {
	wantNotFound(t, s, "k")
	if err := s.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	r := mustAcquire(t, s, req("k", longLease))
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, []byte("v"), time.Hour)
	g := get(t, s, "k")
	if g.Key != "k" || g.Status != idemtype.StatusCompleted || string(g.Value) != "v" || g.Token != r.Token ||
		g.CreatedAt.IsZero() || g.UpdatedAt.Before(g.CreatedAt) {
		t.Fatalf("Get = %+v", g)
	}
	if err := s.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "k")
	mustAcquire(t, s, req("k", longLease))
}

func testDeleteFences(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	if err := s.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantLeaseLost(t, "Complete after Delete", s.Complete(ctx(t), "k", r.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}))
	wantNotFound(t, s, "k")
	r2 := mustAcquire(t, s, req("k", longLease))
	wantLeaseLost(t, "Complete by the deleted owner", s.Complete(ctx(t), "k", r.Token, idemtype.Outcome{Status: idemtype.StatusCompleted}))
	if r2.Token <= r.Token {
		t.Fatalf("token after delete %d, want larger than %d", r2.Token, r.Token)
	}
}

func testFingerprintKept(t *testing.T, s idemtype.Store) {
	fp := strings.Repeat("f", 64)
	r := idemtype.ClaimRequest{Key: "k", Fingerprint: fp, Lease: longLease, TTL: time.Hour, Takeover: true}
	tok := mustAcquire(t, s, r).Token
	complete(t, s, "k", tok, idemtype.StatusCompleted, []byte("v"), time.Hour)
	other := r
	other.Fingerprint = "other"
	if c := mustNotAcquire(t, s, other); c.Record.Fingerprint != fp {
		t.Fatalf("duplicate with another fingerprint saw %q, want %q", c.Record.Fingerprint, fp)
	}
}

// OddKeys are keys that naive stores confuse: path separators and their
// sanitised forms, case, unicode normalisation, NUL, invalid UTF-8,
// whitespace and a 4 KiB key.
func OddKeys() []string {
	return []string{
		"a/b", "a_b", "a\\b", "a:b", "a.b", "a%2Fb", "a b", "a\tb", "A/B",
		"../../etc/passwd", "..", ".", "/", "", " ",
		"café", "cafe\u0301", "caf\u00e9 ", "日本語", "\U0001F600",
		"nul\x00", "nul", "nul\x00x", "\xff\xfe", "\xff", "\x80abc",
		"a\nb", "a\r\nb", "con", "CON", "aux.txt",
		strings.Repeat("k", 4096), strings.Repeat("k", 4095) + "l", strings.Repeat("\x00", 64),
		"{slot}a", "{slot}b", "idempotency:a", "*", "?", "[a]",
	}
}

func testOddKeys(t *testing.T, s idemtype.Store) {
	keys := OddKeys()[:0:0]
	for _, k := range OddKeys() {
		if k != "" { // the guard rejects empty keys before a store sees them
			keys = append(keys, k)
		}
	}
	for i, k := range keys {
		r := mustAcquire(t, s, req(k, longLease))
		complete(t, s, k, r.Token, idemtype.StatusCompleted, []byte(fmt.Sprint(i)), time.Hour)
	}
	for i, k := range keys {
		g := get(t, s, k)
		if g.Key != k || string(g.Value) != fmt.Sprint(i) {
			t.Fatalf("key %q: got record of %q with value %q, want value %d", k, g.Key, g.Value, i)
		}
		c := mustNotAcquire(t, s, req(k, longLease))
		if string(c.Record.Value) != fmt.Sprint(i) {
			t.Fatalf("key %q: duplicate claim saw value %q, want %d", k, c.Record.Value, i)
		}
	}
}

func testLargeValue(t *testing.T, s idemtype.Store) {
	v := make([]byte, 1<<20)
	for i := range v {
		v[i] = byte(i*7 + i>>8) // every byte value, incl. NUL and invalid UTF-8
	}
	r := mustAcquire(t, s, req("big", longLease))
	complete(t, s, "big", r.Token, idemtype.StatusCompleted, v, time.Hour)
	if g := get(t, s, "big"); !bytes.Equal(g.Value, v) {
		t.Fatalf("1 MiB value came back with %d bytes, not equal", len(g.Value))
	}
	if c := mustNotAcquire(t, s, req("big", longLease)); !bytes.Equal(c.Record.Value, v) {
		t.Fatal("1 MiB value differs in the duplicate's claim reply")
	}
}

func testEmptyValue(t *testing.T, s idemtype.Store) {
	r := mustAcquire(t, s, req("k", longLease))
	complete(t, s, "k", r.Token, idemtype.StatusCompleted, nil, time.Hour)
	if g := get(t, s, "k"); g.Status != idemtype.StatusCompleted || len(g.Value) != 0 {
		t.Fatalf("record completed without value = %+v", g)
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

func testWatcher(t *testing.T, s idemtype.Store) {
	w, ok := s.(idemtype.Watcher)
	if !ok {
		t.Skip("store does not implement idemtype.Watcher")
	}
	r := mustAcquire(t, s, req("k", longLease))
	ch, stop, err := w.Watch(ctx(t), "k")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(50 * time.Millisecond)
		if err := s.Complete(context.Background(), "k", r.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not woken within 10s of a completion")
	}
	<-done
	stop()
	stop() // twice is fine

	// A release wakes watchers too.
	r2 := mustAcquire(t, s, req("k2", longLease))
	ch2, stop2, err := w.Watch(ctx(t), "k2")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer stop2()
	if err := s.Release(ctx(t), "k2", r2.Token); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch2:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not woken within 10s of a release")
	}

	// So does a delete (an operator forgets a key that waiters wait on).
	mustAcquire(t, s, req("k3", longLease))
	ch3, stop3, err := w.Watch(ctx(t), "k3")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer stop3()
	if err := s.Delete(ctx(t), "k3"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch3:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not woken within 10s of a delete")
	}
}

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
