package memstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
)

// Every byte of a removed record (key, fingerprint, value) counts as
// garbage of the arena, so that records removed at a steady count get the
// arena packed whichever of their parts is long.
func TestArenaGarbageCounted(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1000)
	for _, c := range []struct {
		name             string
		key, fp, value   string // of each removed record, after its number
		complete, delete bool   // else released in progress
	}{
		{name: "Key", key: long},
		{name: "Fingerprint", fp: long},
		{name: "Value", value: long, complete: true, delete: true},
		{name: "FingerprintDeleted", fp: long, delete: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := oneShard(t)
			claim(t, s, "keep") // the shard is never emptied
			for i := range 100 {
				key := fmt.Sprint(i, c.key)
				cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Fingerprint: c.fp, Lease: time.Minute, TTL: time.Hour})
				if err != nil || !cl.Acquired {
					t.Fatalf("Claim(%d) = %+v, %v", i, cl, err)
				}
				if c.complete {
					err = s.Complete(ctx, key, cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(c.value), TTL: time.Hour})
				}
				if err == nil && c.delete {
					err = s.Delete(ctx, key)
				} else if err == nil {
					err = s.Release(ctx, key, cl.Record.Token)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			// 100 KB were written; unpacked garbage stays under a pack's
			// threshold plus one record's bytes.
			if got := memstore.Arena(s); got > 12<<10 {
				t.Fatalf("arena %d bytes after 100 records of about 1000 bytes were removed: not packed", got)
			}
		})
	}
}

// TestArenaPackedUnderChurn: records replaced by new ones at a steady
// count (no shard shrinks, so none is rebuilt) leave garbage in the arena,
// which a pack reclaims: the arena stays within a small multiple of the
// live bytes however many records came and went.
func TestArenaPackedUnderChurn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := oneShard(t)
	const live, rounds = 200, 3000
	value := strings.Repeat("v", 80)
	add := func(i int) {
		key := fmt.Sprintf("key-%06d", i)
		cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour})
		if err != nil || !cl.Acquired {
			t.Fatalf("Claim(%s) = %+v, %v", key, cl, err)
		}
		if err := s.Complete(ctx, key, cl.Record.Token, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: []byte(value), TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range live {
		add(i)
	}
	for i := live; i < rounds; i++ {
		if err := s.Delete(ctx, fmt.Sprintf("key-%06d", i-live)); err != nil {
			t.Fatal(err)
		}
		add(i)
	}
	// About 90 bytes a record: 18 KB live, 270 KB written. A pack leaves
	// room for as much again and half a pack's threshold.
	if got, max := memstore.Arena(s), 3*live*90+8<<10; got > max {
		t.Fatalf("arena %d bytes for %d live records of about 90 bytes after %d came and went: not packed (want at most %d)", got, live, rounds, max)
	}
}
