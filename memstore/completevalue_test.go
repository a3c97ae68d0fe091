package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// Complete copies the value it is given even when that value is the
// store's own bytes, as Get hands them out: here another record's value,
// at the very start of its shard's arena (an empty key and fingerprint
// put no bytes before it), where a slot with no value points too.
func TestCompleteWithAnotherRecordsValue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := oneShard(t)
	for _, key := range []string{"", "b"} {
		tok := claim(t, s, key)
		value := []byte("first")
		if key != "" {
			g, err := s.Get(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			value = g.Value
		}
		if err := s.Complete(ctx, key, tok, idemtype.Outcome{Status: idemtype.StatusCompleted, Value: value, TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	g, err := s.Get(ctx, "b")
	if err != nil || string(g.Value) != "first" {
		t.Fatalf("Get(b) = value %q, %v; want %q", g.Value, err, "first")
	}
}
