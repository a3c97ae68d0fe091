package credscope

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/idempotency-go/idempotency"
)

// Stored is a MAC under a secret kept in a guard's store: one secret for
// every process and server of the store, across restarts, made at most
// once (the guard's claim) by the first request that needs it.
type Stored[R any] struct {
	g      *idempotency.Guard
	key    string
	name   string // the package, in error messages
	digest func(secret []byte) *MAC[R]
	mac    atomic.Pointer[MAC[R]]
}

// NewStored returns the MAC digest makes under the secret kept in g's
// store under key; name ("idemhttp") starts its error messages.
//
// The secret is made under g's store, codec and lease, but not its
// duplicate policies: a claim of it left behind (a failed completion, a
// crash) is taken over once its lease lapses, since making another secret
// has no effect to repeat, and a duplicate gets the stored secret. Under
// NoTakeover every guarded request would fail for ever.
func NewStored[R any](g *idempotency.Guard, key, name string, digest func(secret []byte) *MAC[R]) *Stored[R] {
	cfg := g.Config()
	cfg.NoTakeover, cfg.OnDuplicate, cfg.OnFailure = false, idempotency.ReturnStored, idempotency.Release
	return &Stored[R]{g: idempotency.New(g.Store(), &cfg), key: key, name: name, digest: digest}
}

// MAC returns the MAC under the stored secret, reading the secret (or
// making it) on first use. An error is the store's, or ErrCorrupt for a
// stored secret that is not one; the next call tries again.
func (s *Stored[R]) MAC(ctx context.Context) (*MAC[R], error) {
	if m := s.mac.Load(); m != nil {
		return m, nil
	}
	secret, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	s.mac.CompareAndSwap(nil, s.digest(secret))
	return s.mac.Load(), nil
}

func (s *Stored[R]) load(ctx context.Context) ([]byte, error) {
	v, err := idempotency.Do(ctx, s.g, s.key, func(context.Context) (string, error) {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		return hex.EncodeToString(b), nil
	}, idempotency.WithTTL(idempotency.NoExpiry), idempotency.WithWaitTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("idempotency: %s: scope secret: %w", s.name, err)
	}
	b, err := hex.DecodeString(v)
	if err == nil && len(b) < MinSecret {
		err = errors.New("too short")
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency: %s: stored scope secret: %w: %w", s.name, idempotency.ErrCorrupt, err)
	}
	return b, nil
}
