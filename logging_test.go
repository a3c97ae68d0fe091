package idempotency_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testchild"
)

const secretKey = "card:4242424242424242"

// logSites makes the guard log, each in its own way, about secretKey.
var logSites = map[string]func(t *testing.T, cfg idempotency.Config){
	"StoreError": func(t *testing.T, cfg idempotency.Config) {
		f := &faultyStore{Store: newStore(t, nil), complete: errDown}
		_, _ = idempotency.Do(context.Background(), newGuard(t, f, &cfg), secretKey, func(context.Context) (int, error) { return 1, nil })
	},
	"ClaimLost": func(t *testing.T, cfg idempotency.Config) {
		g := newGuard(t, nil, &cfg)
		_, _ = idempotency.Do(context.Background(), g, secretKey, func(context.Context) (int, error) {
			_ = g.Forget(context.Background(), secretKey)
			return 1, nil
		})
	},
	"Unencodable": func(t *testing.T, cfg idempotency.Config) {
		_, _ = idempotency.Do(context.Background(), newGuard(t, nil, &cfg), secretKey, func(context.Context) (any, error) { return func() {}, nil })
	},
	"ObserverPanic": func(t *testing.T, cfg idempotency.Config) {
		cfg.Observer = idempotency.ObserverFunc(func(context.Context, idempotency.Event) { panic("x") })
		_, _ = idempotency.Do(context.Background(), newGuard(t, nil, &cfg), secretKey, func(context.Context) (int, error) { return 1, nil })
	},
}

// Logs show a keyed digest of the key, never the key, unless LogRawKeys:
// keys may carry what callers put in them.
func TestLogKeys(t *testing.T) {
	t.Parallel()
	secret := []byte("log secret")
	for name, site := range logSites {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				cfg        idempotency.Config
				want, deny string
			}{
				{idempotency.Config{LogKeySecret: secret}, "key_hmac=" + idempotency.KeyDigest(secret, secretKey), "4242"},
				{idempotency.Config{}, "key_hmac=", "4242"},
				{idempotency.Config{LogRawKeys: true}, "key=" + secretKey, "key_hmac"},
			} {
				var buf testchild.Buffer
				tc.cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
				site(t, tc.cfg)
				l := buf.String()
				if l == "" || !strings.Contains(l, tc.want) || strings.Contains(l, tc.deny) {
					t.Fatalf("LogRawKeys %v: log %q, want %q and no %q", tc.cfg.LogRawKeys, l, tc.want, tc.deny)
				}
			}
		})
	}
}

func TestKeyDigest(t *testing.T) {
	t.Parallel()
	a, b := []byte("a"), []byte("b")
	d := idempotency.KeyDigest(a, "k")
	if len(d) != 22 || d != idempotency.KeyDigest(a, "k") {
		t.Fatalf("digest %q: want 22 stable base64url characters", d)
	}
	for _, other := range []string{idempotency.KeyDigest(b, "k"), idempotency.KeyDigest(a, "k2"), idempotency.KeyDigest(nil, "k")} {
		if other == d {
			t.Fatalf("another secret or key gives the same digest %q", d)
		}
	}
}

// Without a Logger, store errors reach slog.Default (as set when they
// happen) at error level; warnings do not. Not parallel: it sets the
// process's default logger.
func TestDefaultLoggerReportsStoreErrors(t *testing.T) {
	prev := slog.Default()
	defer slog.SetDefault(prev)
	g := idempotency.New(&faultyStore{Store: newStore(t, nil), complete: errDown}, nil)
	var buf bytes.Buffer
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("app", "shop"))
	_, err := idempotency.Do(context.Background(), g, secretKey, func(context.Context) (int, error) { return 1, nil })
	wantErr(t, err, idempotency.ErrNotRecorded)
	_, _ = idempotency.Do(context.Background(), g, "other", func(context.Context) (any, error) { return func() {}, nil })
	l := buf.String()
	if !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "app=shop") || !strings.Contains(l, "store complete failed") ||
		!strings.Contains(l, "key_hmac=") || strings.Contains(l, "4242") {
		t.Fatalf("default log = %q, want the store error at error level", l)
	}
	if strings.Contains(l, "level=WARN") || strings.Count(l, "\n") != 2 {
		t.Fatalf("default log = %q, want the two store errors only", l)
	}
	// A Logger given With attributes keeps them.
	h := g.Config().Logger.With("guard", "payments").WithGroup("g")
	h.Error("x", "n", 1)
	if l := buf.String(); !strings.Contains(l, "guard=payments") || !strings.Contains(l, "g.n=1") {
		t.Fatalf("log = %q", l)
	}
	// Made the process's default itself, it does not call itself for ever.
	slog.SetDefault(g.Config().Logger)
	_, err = idempotency.Do(context.Background(), g, "third", func(context.Context) (int, error) { return 1, nil })
	wantErr(t, err, idempotency.ErrNotRecorded)
}
