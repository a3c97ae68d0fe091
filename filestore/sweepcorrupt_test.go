//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemtype"
)

// A record file that holds another key's record (copied by hand, restored
// from a backup into the wrong place) is corrupt for its own key, whatever
// the record inside says: Sweep leaves it for an operator, as it leaves
// every corrupt file, instead of judging it by the other key's expiry.
func TestSweepLeavesMisplacedRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := newStoreIn(t, dir, &filestore.Options{Now: clk.Now, SweepInterval: -1, PollInterval: -1, NoSync: true})
	ctx := testCtx(t)
	c, err := s.Claim(ctx, claimReq("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "a", c.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte("of a"), TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(recordPath(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	misplaced := recordPath(dir, "b")
	if err := os.WriteFile(misplaced, b, 0o600); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute) // a's record expired
	n, err := s.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want a's record alone removed", n, err)
	}
	if _, err := os.Stat(misplaced); err != nil {
		t.Fatalf("Sweep removed the misplaced file of b: %v", err)
	}
	if _, err := s.Get(ctx, "b"); !errors.Is(err, idemtype.ErrCorrupt) {
		t.Fatalf("Get(b) after Sweep = %v, want ErrCorrupt", err)
	}
}
