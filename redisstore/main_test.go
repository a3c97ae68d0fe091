package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// counter is a go-redis hook counting round trips: one per command, one
// per pipeline.
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// count returns the round trips made since the last call.
func (c *counter) count() int64 { return c.n.Swap(0) }

// client returns a client of addr, closed in t.Cleanup, and its counter.
func client(t testing.TB, addr string) (*redis.Client, *counter) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 128, MaxRetries: -1})
	n := &counter{}
	c.AddHook(n)
	t.Cleanup(func() { _ = c.Close() })
	return c, n
}

func clusterClient(t testing.TB, cl *testserver.RedisCluster) (*redis.ClusterClient, *counter) {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), PoolSize: 64})
	n := &counter{}
	c.AddHook(n)
	t.Cleanup(func() { _ = c.Close() })
	return c, n
}

// sentinelClient returns a failover client of the Sentinel's primary.
func sentinelClient(t testing.TB, s *testserver.RedisSentinel) (*redis.Client, *counter) {
	t.Helper()
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    testserver.MasterName,
		SentinelAddrs: []string{s.Sentinel.Addr()},
		PoolSize:      64,
	})
	n := &counter{}
	c.AddHook(n)
	t.Cleanup(func() { _ = c.Close() })
	return c, n
}

var prefixes atomic.Int64

// prefix returns a prefix no other store of this test binary uses, so
// stores sharing a server start empty.
func prefix(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	return fmt.Sprintf("test%d-%s:", prefixes.Add(1), name)
}

// newStore returns a store with a fresh prefix, closed in t.Cleanup.
func newStore(t testing.TB, c redis.UniversalClient, opts *redisstore.Options) *redisstore.Store {
	t.Helper()
	var o redisstore.Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = prefix(t)
	}
	s := redisstore.New(c, &o)
	t.Cleanup(func() { _ = s.Close() })
	return s
}
