package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
)

// A full store's error, which the guard logs and returns, must not show
// the key (it may carry a card number): a guard's logs show a keyed digest
// unless Config.LogRawKeys. OpError.Key keeps it for code that asks.
func TestFullErrorDoesNotShowKey(t *testing.T) {
	t.Parallel()
	const key = "charge:card=4111111111111111"
	ctx := context.Background()
	s := memstore.New(&memstore.Options{MaxRecords: 1, SweepInterval: -1})
	acquire(t, s, "other")
	_, cerr := s.Claim(ctx, claimReq(key))
	var oe *idemtype.OpError
	if !errors.As(cerr, &oe) || oe.Key != key || !errors.Is(cerr, memstore.ErrFull) {
		t.Fatalf("Claim of a full store: %#v, want an OpError of the key matching ErrFull", cerr)
	}
	var logs bytes.Buffer
	g := idempotency.New(s, &idempotency.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	_, err := idempotency.Do(ctx, g, key, func(context.Context) (int, error) { return 1, nil })
	if !errors.Is(err, idempotency.ErrStore) {
		t.Fatalf("Do over a full store = %v", err)
	}
	for what, text := range map[string]string{"Claim's error": cerr.Error(), "the logs": logs.String()} {
		if strings.Contains(text, "4111") {
			t.Errorf("%s show the key: %s", what, text)
		}
	}
}
