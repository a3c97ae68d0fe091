package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testserver"
)

// TestSentinelFailover: records completed and replicated before a
// Sentinel failover are replayed by the promoted replica, so their
// functions never run again; once the old primary is demoted, new keys run
// once on the new primary (which has none of the store's scripts cached).
// Calls made during the switch itself may lose their claim with the old
// primary (ErrNotRecorded, or a second run on retry): the asynchronous
// replication caveat the README states.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	sen := testserver.StartRedisSentinel(t, 1)
	c, _ := sentinelClient(t, sen)
	g := idempotency.New(newStore(t, c, nil), &idempotency.Config{Lease: time.Minute})
	ctx := context.Background()

	var effects [150]atomic.Int64
	// call runs key i through the guard, retrying store errors for a while:
	// while the client learns of the new primary, a write can still reach
	// the demoted one (READONLY), and ErrStore means fn did not run.
	call := func(i int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			v, err := idempotency.Do(ctx, g, "key"+strconv.Itoa(i), func(context.Context) (int, error) {
				effects[i].Add(1)
				return i, nil
			})
			if errors.Is(err, idempotency.ErrStore) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if err != nil || v != i {
				t.Fatalf("key%d = %d, %v; want %d", i, v, err, i)
			}
			return
		}
	}

	for i := range 100 {
		call(i)
	}
	// Replication is asynchronous: only what the replica has acknowledged
	// survives a failover (see the README).
	if n, err := c.Do(ctx, "WAIT", 1, 10000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v; want the replica's acknowledgement", n, err)
	}
	if got, want := sen.Failover(t), sen.Replicas[0].Addr(); got != want {
		t.Fatalf("primary after failover = %s, want the replica %s", got, want)
	}
	for i := range 150 {
		call(i) // 0-99 replayed, 100-149 new
	}
	for i := range effects {
		if n := effects[i].Load(); n != 1 {
			t.Errorf("key%d ran %d times, want once", i, n)
		}
	}
}
