package idempotency

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
)

// defaultHandler is the handler of the default Config.Logger: errors
// only, to slog.Default as it is when they happen (a program may set its
// default logger after making its guards). A store that fails to record
// an outcome means fn may run again; nobody should learn that late because
// no logger was configured.
type defaultHandler struct {
	with []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order
}

func (h defaultHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h defaultHandler) Handle(ctx context.Context, r slog.Record) error {
	d := slog.Default().Handler()
	if _, ok := d.(defaultHandler); ok {
		// The guard's default logger made the process's default: there
		// is nowhere else to send the record.
		return nil
	}
	for _, w := range h.with {
		d = w(d)
	}
	if !d.Enabled(ctx, r.Level) {
		return nil
	}
	return d.Handle(ctx, r)
}

func (h defaultHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return defaultHandler{with: append(h.with[:len(h.with):len(h.with)], func(d slog.Handler) slog.Handler { return d.WithAttrs(attrs) })}
}

func (h defaultHandler) WithGroup(name string) slog.Handler {
	return defaultHandler{with: append(h.with[:len(h.with):len(h.with)], func(d slog.Handler) slog.Handler { return d.WithGroup(name) })}
}

// keyAttr is how logs show a key: by default a keyed digest (key_hmac),
// so that logs can be correlated without holding the keys, which may carry
// what callers put in them (account numbers, e-mails); the key itself
// only with [Config.LogRawKeys].
func (g *Guard) keyAttr(key string) slog.Attr {
	if g.cfg.LogRawKeys {
		return slog.String("key", key)
	}
	return slog.String("key_hmac", KeyDigest(g.cfg.LogKeySecret, key))
}

// KeyDigest is the digest a guard's logs show for key under secret
// ([Config.LogKeySecret]): base64url of the first 16 bytes of
// HMAC-SHA256(secret, key). An operator who holds the secret and a key
// can find that key's log lines; a reader of the logs alone cannot
// recover keys, not even by trying likely ones.
func KeyDigest(secret []byte, key string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(key))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// newLogKeySecret makes the secret of a guard whose Config has none: its
// digests correlate the lines of one guard only.
func newLogKeySecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}
