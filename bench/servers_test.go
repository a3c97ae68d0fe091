//go:build unix

package bench

import (
	"context"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
)

// The server cases run where internal/testserver does: on Unix. It skips
// them when a server is not installed (fails them under
// IDEM_TEST_REQUIRE_SERVERS=1).

// dupKeys is how many completed keys the duplicate cases of the server
// benchmarks cycle through.
const dupKeys = 1024

// startRedis starts a redis-server for b (skipping when it is missing) and
// returns a client whose pool serves 64 goroutines.
func startRedis(b *testing.B) *redis.Client {
	b.Helper()
	srv := testserver.StartRedis(b)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 128})
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// newRedisGuard is a guard with defaults on a redisstore with defaults.
func newRedisGuard(b *testing.B, c *redis.Client) *idempotency.Guard {
	b.Helper()
	s := redisstore.New(c, nil)
	b.Cleanup(func() { _ = s.Close() })
	if err := s.LoadScripts(context.Background()); err != nil {
		b.Fatal(err)
	}
	return idempotency.New(s, nil)
}
