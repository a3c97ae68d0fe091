package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/idempotency-go/idempotency/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	c, _ := client(t, srv.Addr())
	storetest.Run(t, func(t *testing.T) idemtype.Store { return newStore(t, c, nil) })
}

func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	cl := testserver.StartRedisCluster(t, 3)
	c, _ := clusterClient(t, cl)
	storetest.Run(t, func(t *testing.T) idemtype.Store { return newStore(t, c, nil) })
}

func TestConformanceSentinel(t *testing.T) {
	t.Parallel()
	c, _ := sentinelClient(t, testserver.StartRedisSentinel(t, 1))
	storetest.Run(t, func(t *testing.T) idemtype.Store { return newStore(t, c, nil) })
}

// With nil Options, records live under DefaultPrefix, in one hash slot
// named by the SHA-256 of the key.
func TestDefaultPrefix(t *testing.T) {
	t.Parallel()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	s := redisstore.New(c, nil)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	if _, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "a/b", Lease: time.Minute, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("a/b"))
	want := redisstore.DefaultPrefix + "{" + base64.RawURLEncoding.EncodeToString(sum[:]) + "}"
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("keys %q, want [%q]", keys, want)
	}
}

// With notifications off, Watch says it cannot watch (errors.ErrUnsupported)
// and the conformance suite skips its watcher case; every other case passes
// with waiters that poll.
func TestConformancePubSubOff(t *testing.T) {
	t.Parallel()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	storetest.Run(t, func(t *testing.T) idemtype.Store {
		return newStore(t, c, &redisstore.Options{PubSub: redisstore.PubSubOff})
	})
}
