package idemhttp_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testchild"
)

// Keys carry what clients put in them (a card number, an e-mail): the
// middleware's own log lines show a keyed digest of the record key, like
// the guard's, and the key itself only under the guard's LogRawKeys.
func TestLogsShowKeyDigests(t *testing.T) {
	t.Parallel()
	const key = "card-4111111111111111"
	for _, raw := range []bool{false, true} {
		t.Run(map[bool]string{false: "digest", true: "LogRawKeys"}[raw], func(t *testing.T) {
			t.Parallel()
			var logs testchild.Buffer
			var c counter
			e := newEnv(t, paymentHandler(&c), &envOptions{guard: &idempotency.Config{
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), LogRawKeys: raw,
			}})
			e.do(req{key: key, body: "b"})
			// Rewrite the record with a value that cannot be replayed.
			ctx := context.Background()
			rk := recordKey(key)
			rec, err := e.store.Get(ctx, rk)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.store.Delete(ctx, rk); err != nil {
				t.Fatal(err)
			}
			cl, err := e.store.Claim(ctx, idempotency.ClaimRequest{Key: rk, Fingerprint: rec.Fingerprint, Lease: time.Minute, TTL: time.Hour})
			if err != nil || !cl.Acquired {
				t.Fatalf("claim: %v %v", cl, err)
			}
			if err := e.store.Complete(ctx, rk, cl.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: []byte(`{"status":0}`), TTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
			if r := e.do(req{key: key, body: "b"}); r.status != 500 {
				t.Fatalf("corrupt record: %d %s", r.status, r.body)
			}
			out := logs.String()
			if !strings.Contains(out, "stored response cannot be replayed") {
				t.Fatalf("no log line for the corrupt record:\n%s", out)
			}
			digest := "key_hmac=" + idempotency.KeyDigest(e.guard.Config().LogKeySecret, rk)
			switch {
			case raw && !strings.Contains(out, key):
				t.Fatalf("LogRawKeys, and the key is not in the logs:\n%s", out)
			case !raw && strings.Contains(out, key):
				t.Fatalf("the raw key is in the logs:\n%s", out)
			case !raw && !strings.Contains(out, digest):
				t.Fatalf("the logs do not show %s:\n%s", digest, out)
			}
		})
	}
}
