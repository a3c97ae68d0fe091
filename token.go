package idempotency

import "context"

type tokenKey struct{}

// TokenFrom returns the fencing token of the execution running under ctx:
// inside fn, the token of this claim. Pass it to systems that can reject
// stale writers (a version column, a storage API's precondition), so that
// an execution whose lease lapsed and was taken over cannot overwrite the
// newer one's effects.
func TokenFrom(ctx context.Context) (Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(Token)
	return t, ok
}
