package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
)

// TestExpireAtMillisecondBoundary: a record written with expires_at e
// lives until e when its script reaches expire within microseconds of the
// millisecond e - 1, not only after a stall. Redis 7.0 deletes a key at
// once whose PEXPIREAT is not after its clock as the command runs: when
// the millisecond changes between expire's reading of the clock and its
// PEXPIREAT e - 1, a reading that said e - 1 was still ahead is stale, and
// the record went a millisecond early. Each try stops its script a few
// microseconds before e - 1; a try whose script ran into e is not counted.
func TestExpireAtMillisecondBoundary(t *testing.T) {
	t.Parallel()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	counted := 0
	for try := range 400 {
		ttl, before := 2+try%2, 2+try/2%12 // ms; µs before e - 1
		r, err := c.Eval(ctx, redisstore.BoundaryExpireScript, []string{"boundary:" + strconv.Itoa(try)}, ttl, before).Int64Slice()
		if err != nil {
			t.Fatal(err)
		}
		exists, e, after := r[0], r[1], r[2]
		if after >= e {
			continue
		}
		counted++
		if exists != 1 {
			t.Fatalf("TTL %d ms, expire %d µs before expires_at - 1: key deleted at %d, before its record's expires_at %d",
				ttl, before, after, e)
		}
	}
	if counted < 20 { // a machine too loaded to run the script within a few ms proves nothing
		t.Fatalf("only %d of 400 tries set the expiry before expires_at", counted)
	}
}
