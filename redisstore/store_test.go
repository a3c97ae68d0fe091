package redisstore_test

import (
	"testing"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
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
