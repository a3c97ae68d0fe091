package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
)

// lossy is a Store whose client reaches Redis through a proxy that can
// lose replies, and go-redis re-sends a command whose reply was lost (its
// default MaxRetries, 3), beside a Store on a direct client with the same
// prefix to set up and inspect records.
type lossy struct {
	proxy          *testserver.Proxy
	store, direct  *redisstore.Store
	redis, through *redis.Client
}

func newLossy(t *testing.T, srv *testserver.Redis) *lossy {
	t.Helper()
	return newLossyReading(t, srv, idemtype.ReadFirstAuto)
}

// newLossyReading is newLossy with the lossy Store reading first as rf
// says.
func newLossyReading(t *testing.T, srv *testserver.Redis, rf idemtype.ReadFirst) *lossy {
	t.Helper()
	p := testserver.StartProxy(t, srv.Addr())
	through := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: 3,
		MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 20 * time.Millisecond})
	t.Cleanup(func() { _ = through.Close() })
	direct, _ := client(t, srv.Addr())
	pfx := prefix(t)
	l := &lossy{
		proxy:   p,
		store:   newStore(t, through, &redisstore.Options{Prefix: pfx, ReadFirst: rf}),
		direct:  newStore(t, direct, &redisstore.Options{Prefix: pfx}),
		redis:   direct,
		through: through,
	}
	// Cached scripts keep every operation one EVALSHA, the command the
	// proxy is told to lose the replies of.
	if err := l.direct.LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

// lose arms the proxy to lose the replies of the next n EVALSHAs (go-redis writes command names in lower case), calling
// between (if set) after each has run on the server.
func (l *lossy) lose(n int, between func()) {
	l.proxy.DropReplies(testserver.Drop{Match: "evalsha", Count: n, Lost: between})
}

// checkLost fails unless exactly n replies were lost since the last check.
func (l *lossy) checkLost(t *testing.T, n int, last *int) {
	t.Helper()
	if got := l.proxy.Dropped() - *last; got != n || l.proxy.Pending() != 0 {
		t.Fatalf("proxy lost %d replies (%d pending), want %d: the test did not exercise a re-send", got, l.proxy.Pending(), n)
	}
	*last += n
}

// TestLostRepliesResent: every store operation whose reply is lost once or
// twice, and which go-redis therefore sends again after the server ran it,
// reports what the first run did and leaves the record as one run would.
func TestLostRepliesResent(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	req := func(lease time.Duration) idemtype.ClaimRequest {
		return idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: lease, TTL: time.Hour, Takeover: true}
	}
	done := idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}
	failed := idemtype.Outcome{Status: idemtype.StatusFailed, Value: []byte("boom"), TTL: time.Hour}
	cases := []struct {
		name string
		run  func(t *testing.T, l *lossy, ctx context.Context, lost int)
	}{
		{"claim", func(t *testing.T, l *lossy, ctx context.Context, lost int) {
			l.lose(lost, nil)
			cl, err := l.store.Claim(ctx, req(time.Minute))
			if err != nil || !cl.Acquired || cl.TookOver {
				t.Fatalf("re-sent Claim = %+v, %v; want acquired", cl, err)
			}
			rec := mustGet(t, l.direct)
			if rec.Token != cl.Record.Token || rec.Status != idemtype.StatusInProgress ||
				!rec.LeaseUntil.Equal(cl.Record.LeaseUntil) || !rec.CreatedAt.Equal(cl.Record.CreatedAt) {
				t.Fatalf("claim %+v, stored %+v: not the same", cl.Record, rec)
			}
			// The claim is usable: its token completes the record.
			if err := l.direct.Complete(ctx, "k", cl.Record.Token, done); err != nil {
				t.Fatalf("Complete with the re-sent claim's token: %v", err)
			}
		}},
		{"takeover", func(t *testing.T, l *lossy, ctx context.Context, lost int) {
			first := mustClaim(t, l.direct, req(time.Millisecond))
			time.Sleep(20 * time.Millisecond) // the 1ms lease lapses
			l.lose(lost, nil)
			cl, err := l.store.Claim(ctx, req(time.Minute))
			if err != nil || !cl.Acquired || !cl.TookOver || cl.Record.Token <= first.Token {
				t.Fatalf("re-sent takeover = %+v, %v; want taken over with a larger token than %d", cl, err, first.Token)
			}
			if rec := mustGet(t, l.direct); rec.Token != cl.Record.Token || !rec.LeaseUntil.Equal(cl.Record.LeaseUntil) {
				t.Fatalf("takeover %+v, stored %+v", cl.Record, rec)
			}
		}},
		{"complete", func(t *testing.T, l *lossy, ctx context.Context, lost int) {
			tok := mustClaim(t, l.direct, req(time.Minute)).Token
			l.lose(lost, nil)
			if err := l.store.Complete(ctx, "k", tok, done); err != nil {
				t.Fatalf("re-sent Complete = %v, want success", err)
			}
			if rec := mustGet(t, l.direct); rec.Status != idemtype.StatusCompleted || string(rec.Value) != "v" || rec.Token != tok {
				t.Fatalf("record after the re-sent Complete: %+v", rec)
			}
			// A second completion by the same token is still refused.
			if err := l.store.Complete(ctx, "k", tok, done); !errors.Is(err, idemtype.ErrLeaseLost) {
				t.Fatalf("another Complete by the same token = %v, want ErrLeaseLost", err)
			}
		}},
		{"complete failed", func(t *testing.T, l *lossy, ctx context.Context, lost int) {
			tok := mustClaim(t, l.direct, req(time.Minute)).Token
			l.lose(lost, nil)
			if err := l.store.Complete(ctx, "k", tok, failed); err != nil {
				t.Fatalf("re-sent Complete = %v, want success", err)
			}
			if rec := mustGet(t, l.direct); rec.Status != idemtype.StatusFailed || string(rec.Value) != "boom" {
				t.Fatalf("record after the re-sent Complete: %+v", rec)
			}
		}},
		{"release", func(t *testing.T, l *lossy, ctx context.Context, lost int) {
			tok := mustClaim(t, l.direct, req(time.Minute)).Token
			l.lose(lost, nil)
			if err := l.store.Release(ctx, "k", tok); err != nil {
				t.Fatalf("re-sent Release = %v, want success", err)
			}
			if rec, err := l.direct.Get(ctx, "k"); !errors.Is(err, idemtype.ErrNotFound) {
				t.Fatalf("Get after the re-sent Release = %+v, %v; want ErrNotFound", rec, err)
			}
			if err := l.store.Release(ctx, "k", tok); !errors.Is(err, idemtype.ErrLeaseLost) {
				t.Fatalf("another Release by the same token = %v, want ErrLeaseLost", err)
			}
		}},
		{"release, then claimed again before the re-send", func(t *testing.T, l *lossy, ctx context.Context, lost int) {
			tok := mustClaim(t, l.direct, req(time.Minute)).Token
			var next atomic.Uint64
			l.lose(lost, func() {
				if next.Load() == 0 {
					cl, err := l.direct.Claim(ctx, req(time.Minute))
					if err != nil || !cl.Acquired {
						t.Errorf("claim between release and re-send = %+v, %v", cl, err)
					}
					next.Store(uint64(cl.Record.Token))
				}
			})
			if err := l.store.Release(ctx, "k", tok); err != nil {
				t.Fatalf("re-sent Release = %v, want success", err)
			}
			if rec := mustGet(t, l.direct); rec.Token != idemtype.Token(next.Load()) || rec.Status != idemtype.StatusInProgress {
				t.Fatalf("record after the re-sent Release = %+v, want the new claim's (token %d)", rec, next.Load())
			}
		}},
		{"extend", func(t *testing.T, l *lossy, ctx context.Context, lost int) {
			tok := mustClaim(t, l.direct, req(time.Minute)).Token
			l.lose(lost, nil)
			if err := l.store.Extend(ctx, "k", tok, time.Hour); err != nil {
				t.Fatalf("re-sent Extend = %v, want success", err)
			}
			if rec := mustGet(t, l.direct); time.Until(rec.LeaseUntil) < 30*time.Minute || rec.Token != tok {
				t.Fatalf("record after the re-sent Extend: %+v", rec)
			}
		}},
		{"delete", func(t *testing.T, l *lossy, ctx context.Context, lost int) {
			mustClaim(t, l.direct, req(time.Minute))
			l.lose(lost, nil)
			if err := l.store.Delete(ctx, "k"); err != nil {
				t.Fatalf("re-sent Delete = %v, want success", err)
			}
			if _, err := l.direct.Get(ctx, "k"); !errors.Is(err, idemtype.ErrNotFound) {
				t.Fatalf("Get after the re-sent Delete = %v; want ErrNotFound", err)
			}
		}},
	}
	for _, tc := range cases {
		for _, lost := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/lost=%d", tc.name, lost), func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				l := newLossy(t, srv)
				last := 0
				tc.run(t, l, ctx, lost)
				l.checkLost(t, lost, &last)
			})
		}
	}
}

// TestLostRepliesGuard: calls through the guard whose claim, completion
// or release replies are lost run fn once and report what happened: the
// caller neither waits for itself nor hears ErrNotRecorded, and duplicates
// get the recorded outcome.
func TestLostRepliesGuard(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	errDeclined := errors.New("declined")
	cases := []struct {
		name       string
		onFailure  idempotency.FailurePolicy
		fail       bool // fn returns errDeclined
		loseClaim  int  // replies of the claim lost
		loseSettle int  // replies of the completion or release lost
		wantRuns   int  // fn runs after the call and a duplicate
	}{
		{"claim lost once", idempotency.Release, false, 1, 0, 1},
		{"claim lost twice", idempotency.Release, false, 2, 0, 1},
		{"complete lost once", idempotency.Release, false, 0, 1, 1},
		{"complete lost twice", idempotency.Release, false, 0, 2, 1},
		{"claim and complete lost", idempotency.Release, false, 1, 1, 1},
		{"remembered failure lost", idempotency.Remember, true, 1, 2, 1},
		// The release is recorded: the duplicate runs fn again.
		{"release lost", idempotency.Release, true, 1, 2, 2},
	}
	for _, tc := range cases {
		for _, rf := range []idemtype.ReadFirst{idemtype.ReadFirstAuto, idemtype.ReadFirstAlways} {
			t.Run(tc.name+"/read first "+rf.String(), func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				l := newLossyReading(t, srv, rf)
				// WaitTimeout -1: a caller finding the key in progress (its
				// own claim, re-sent) fails at once with ErrInProgress.
				g := idempotency.New(l.store, &idempotency.Config{Lease: time.Minute, WaitTimeout: -1, OnFailure: tc.onFailure})
				effects := prefix(t) + "effects"
				fn := func(ctx context.Context) (int64, error) {
					n, err := l.redis.Incr(ctx, effects).Result()
					if err != nil {
						return 0, err
					}
					if tc.loseSettle > 0 {
						l.lose(tc.loseSettle, nil)
					}
					if tc.fail {
						return 0, errDeclined
					}
					return n, nil
				}
				last := 0
				if tc.loseClaim > 0 {
					l.lose(tc.loseClaim, nil)
				}
				v, err := idempotency.Do(ctx, g, "k", fn)
				switch {
				case tc.fail && !errors.Is(err, errDeclined):
					t.Fatalf("first call = %d, %v; want fn's error", v, err)
				case !tc.fail && (err != nil || v != 1):
					t.Fatalf("first call = %d, %v; want 1 and no error", v, err)
				}
				l.checkLost(t, tc.loseClaim+tc.loseSettle, &last)
				v, err = idempotency.Do(ctx, g, "k", fn)
				switch {
				case tc.fail && tc.onFailure == idempotency.Remember && !errors.Is(err, idempotency.ErrFailed):
					t.Fatalf("duplicate of a remembered failure = %d, %v; want ErrFailed", v, err)
				case !tc.fail && (err != nil || v != 1):
					t.Fatalf("duplicate = %d, %v; want the first call's 1", v, err)
				}
				if n, err := l.redis.Get(ctx, effects).Int(); err != nil || n != tc.wantRuns {
					t.Fatalf("fn ran %d times (%v), want %d", n, err, tc.wantRuns)
				}
			})
		}
	}
}

func mustClaim(t *testing.T, s *redisstore.Store, req idemtype.ClaimRequest) idemtype.Record {
	t.Helper()
	cl, err := s.Claim(context.Background(), req)
	if err != nil || !cl.Acquired {
		t.Fatalf("Claim = %+v, %v", cl, err)
	}
	return cl.Record
}

func mustGet(t *testing.T, s *redisstore.Store) idemtype.Record {
	t.Helper()
	rec, err := s.Get(context.Background(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return rec
}

// TestWaiterConnectionsCut: every connection of a waiting duplicate,
// its subscription's included, is cut just before the first call records
// its outcome, and the network stays slow, so the completion's message is
// lost. The waiter, woken by the broken subscription, looks again and
// gets the first call's result; fn runs once.
func TestWaiterConnectionsCut(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	l := newLossy(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := &idempotency.Config{Lease: time.Minute, OnDuplicate: idempotency.Wait}
	executor := idempotency.New(l.direct, cfg)
	waiter := idempotency.New(l.store, cfg)
	var runs atomic.Int64
	started, finish := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := idempotency.Do(ctx, executor, "k", func(context.Context) (string, error) {
			runs.Add(1)
			close(started)
			<-finish
			return "first", nil
		})
		done <- err
	}()
	<-started
	got := make(chan string, 1)
	go func() {
		v, err := idempotency.Do(ctx, waiter, "k", func(context.Context) (string, error) {
			runs.Add(1)
			return "second", nil
		})
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	// subscribed waits until a connection other than those in old holds
	// the waiter's subscription, and returns its id.
	subscribed := func(old string) string {
		t.Helper()
		for {
			list, err := l.redis.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(list, "\n") {
				id, _, _ := strings.Cut(line, " ")
				if strings.Contains(" "+line+" ", " sub=1 ") && id != old {
					return id
				}
			}
			select {
			case <-ctx.Done():
				t.Fatalf("waiter did not subscribe on a new connection; pub/sub clients:\n%s", list)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	subscribed("")
	l.proxy.SetDelay(500 * time.Millisecond) // the waiter cannot subscribe again in time
	l.proxy.Cut()
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "first" {
			t.Fatalf("waiter got %q, want the first call's result", v)
		}
	case <-ctx.Done():
		t.Fatal("waiter not woken after its connections were cut")
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("fn ran %d times, want once", n)
	}
}

// TestLostRepliesCluster: a ClusterClient re-sends too (its own retry
// loop); claims and completions whose replies are lost on the master
// owning the key give the same results as on a single node.
func TestLostRepliesCluster(t *testing.T) {
	t.Parallel()
	cl := testserver.StartRedisCluster(t, 3)
	proxies := map[string]*testserver.Proxy{}
	for _, addr := range cl.Addrs() {
		proxies[addr] = testserver.StartProxy(t, addr)
	}
	var d net.Dialer
	through := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: cl.Addrs(), MaxRetries: 3, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 20 * time.Millisecond,
		// Every connection to a master goes through its proxy.
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if p := proxies[addr]; p != nil {
				addr = p.Addr()
			}
			return d.DialContext(ctx, network, addr)
		},
	})
	t.Cleanup(func() { _ = through.Close() })
	direct, _ := clusterClient(t, cl)
	pfx := prefix(t)
	store := newStore(t, through, &redisstore.Options{Prefix: pfx})
	check := newStore(t, direct, &redisstore.Options{Prefix: pfx})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := check.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	for i, lost := range []int{1, 2} {
		key := "k" + strconv.Itoa(i)
		node, err := direct.MasterForKey(ctx, store.RedisKey(key))
		if err != nil {
			t.Fatal(err)
		}
		p := proxies[node.Options().Addr]
		if p == nil {
			t.Fatalf("no proxy for master %s", node.Options().Addr)
		}
		before := p.Dropped()
		p.DropReplies(testserver.Drop{Match: "evalsha", Count: lost})
		c, err := store.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour, Takeover: true})
		if err != nil || !c.Acquired {
			t.Fatalf("lost=%d: re-sent Claim = %+v, %v; want acquired", lost, c, err)
		}
		p.DropReplies(testserver.Drop{Match: "evalsha", Count: lost})
		out := idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}
		if err := store.Complete(ctx, key, c.Record.Token, out); err != nil {
			t.Fatalf("lost=%d: re-sent Complete = %v, want success", lost, err)
		}
		if got := p.Dropped() - before; got != 2*lost || p.Pending() != 0 {
			t.Fatalf("lost=%d: proxy lost %d replies (%d pending), want %d", lost, got, p.Pending(), 2*lost)
		}
		if rec, err := check.Get(ctx, key); err != nil || rec.Status != idemtype.StatusCompleted || rec.Token != c.Record.Token {
			t.Fatalf("lost=%d: record %+v, %v", lost, rec, err)
		}
	}
}

// TestLostReadReplyResent: a read first whose reply is lost is sent again,
// and answers from the key as it is then: a record deleted and claimed
// anew in between is not answered by the finished record the lost reply
// held.
func TestLostReadReplyResent(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := newLossyReading(t, srv, idemtype.ReadFirstAlways)
	req := idemtype.ClaimRequest{Key: "k", Fingerprint: "fp", Lease: time.Minute, TTL: time.Hour, Takeover: true}
	done := mustClaim(t, l.direct, req)
	if err := l.direct.Complete(ctx, "k", done.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("v"), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	var next atomic.Uint64
	l.proxy.DropReplies(testserver.Drop{Match: "pexpiretime", Lost: func() {
		if err := l.direct.Delete(ctx, "k"); err != nil {
			t.Error(err)
			return
		}
		cl, err := l.direct.Claim(ctx, req)
		if err != nil || !cl.Acquired {
			t.Errorf("claim between the read and its re-send = %+v, %v", cl, err)
		}
		next.Store(uint64(cl.Record.Token))
	}})
	cl, err := l.store.Claim(ctx, req)
	if err != nil || cl.Acquired || cl.Record.Status != idemtype.StatusInProgress || cl.Record.Token != idemtype.Token(next.Load()) {
		t.Fatalf("Claim whose read was re-sent = %+v, %v; want the new claim in progress (token %d)", cl, err, next.Load())
	}
	last := 0
	l.checkLost(t, 1, &last)
}
