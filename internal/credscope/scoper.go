package credscope

import (
	"context"
	"fmt"

	"github.com/idempotency-go/idempotency"
)

// Choice is how a middleware's configuration scopes requests of type R.
type Choice[R any] struct {
	// Scope is the middleware's own scope function (Config.Scope), if
	// set: it decides alone.
	Scope func(R) string
	// Shared puts every request in one key space (Config.SharedKeySpace).
	Shared bool
	// Secret keys Digest (Config.ScopeSecret); nil: the secret kept in
	// Guard's store under SecretKey.
	Secret []byte
	// Digest makes the default scope's MAC under a secret.
	Digest    func(secret []byte) *MAC[R]
	Guard     *idempotency.Guard
	SecretKey string
	// Name is the middleware's package, in messages ("idemhttp").
	Name string
}

// Scoper finds the scope of a request by a Choice: in this order, the
// middleware's Scope, one shared key space, or the keyed digest of the
// request's credentials under the given secret or the one kept in the
// store.
type Scoper[R any] struct {
	fixed  func(R) string
	shared bool
	mac    *MAC[R]
	stored *Stored[R]
}

// NewScoper returns the Scoper of c. It panics on a given secret shorter
// than MinSecret, which a programmer wrote.
func NewScoper[R any](c Choice[R]) *Scoper[R] {
	switch {
	case c.Scope != nil:
		return &Scoper[R]{fixed: c.Scope}
	case c.Shared:
		return &Scoper[R]{shared: true}
	case c.Secret != nil:
		if len(c.Secret) < MinSecret {
			panic(fmt.Sprintf("idempotency: %s: Config.ScopeSecret is shorter than %d bytes", c.Name, MinSecret))
		}
		return &Scoper[R]{mac: c.Digest(c.Secret)}
	}
	return &Scoper[R]{stored: NewStored(c.Guard, c.SecretKey, c.Name, c.Digest)}
}

// Append appends the scope of r to dst. ok is false, and nothing appended,
// for a request that cannot be told apart: an empty scope of the
// middleware's, or no credentials (a shared key space tells every request
// apart by its key alone: its scope is empty, and ok). err is set when the
// stored secret cannot be read or made.
func (s *Scoper[R]) Append(ctx context.Context, dst []byte, r R) (_ []byte, ok bool, err error) {
	switch {
	case s.shared:
		return dst, true, nil
	case s.fixed != nil:
		scope := s.fixed(r)
		return append(dst, scope...), scope != "", nil
	}
	mac := s.mac
	if mac == nil {
		if mac, err = s.stored.MAC(ctx); err != nil {
			return dst, false, err
		}
	}
	dst, ok = mac.Append(dst, r)
	return dst, ok, nil
}
