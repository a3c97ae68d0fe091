package idempotency

import "context"

// Wrap returns fn guarded by g under a key derived from name and the
// canonical encoding of its argument (see Key): calls with equal arguments
// run fn once. name must differ between functions that share a store.
func Wrap[A, T any](g *Guard, name string, fn func(context.Context, A) (T, error)) func(context.Context, A) (T, error) {
	return func(ctx context.Context, a A) (T, error) {
		key, err := Key(name, a)
		if err != nil {
			var zero T
			return zero, err
		}
		return Do(ctx, g, key, func(ctx context.Context) (T, error) { return fn(ctx, a) })
	}
}

// WrapKeyed is Wrap with the key chosen by the caller: the key alone is the
// identity of a call, so calls with the same key and other arguments get
// the first call's result. Use [WithFingerprint] through Do to detect such
// reuse instead.
func WrapKeyed[A, T any](g *Guard, key func(A) string, fn func(context.Context, A) (T, error)) func(context.Context, A) (T, error) {
	return func(ctx context.Context, a A) (T, error) {
		return Do(ctx, g, key(a), func(ctx context.Context) (T, error) { return fn(ctx, a) })
	}
}
