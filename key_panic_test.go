package idempotency_test

import (
	"context"
	"errors"
	"testing"

	"github.com/idempotency-go/idempotency"
)

// currency's MarshalText has a bug: it dereferences a nil pointer.
type currency struct{ code *string }

func (c currency) MarshalText() ([]byte, error) { return []byte(*c.code), nil }

// TestKeyMarshalTextPanics: a MarshalText that panics makes a value that
// cannot be encoded, as a failing one does: Key, WithFingerprint and Wrap
// return an error matching ErrInvalidKey naming the argument, fn does
// not run, and the caller's goroutine does not panic (the guard already
// recovers a panicking Codec.Marshal of a result the same way).
func TestKeyMarshalTextPanics(t *testing.T) {
	t.Parallel()
	type order struct {
		Amount   int
		Currency currency
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Key", func() error { _, err := idempotency.Key("charge", order{Amount: 5}); return err }},
		{"KeyInMap", func() error {
			_, err := idempotency.Key("charge", map[string]any{"c": currency{}})
			return err
		}},
		{"KeyMapKey", func() error { _, err := idempotency.Key("charge", map[currency]int{{}: 1}); return err }},
		{"Fingerprint", func() error {
			g := idempotency.New(newStore(t, nil), nil)
			_, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) {
				t.Error("fn ran")
				return 0, nil
			}, idempotency.WithFingerprint(order{}))
			return err
		}},
		{"Wrap", func() error {
			g := idempotency.New(newStore(t, nil), nil)
			_, err := idempotency.Wrap(g, "charge", func(context.Context, order) (int, error) {
				t.Error("fn ran")
				return 0, nil
			})(context.Background(), order{Amount: 5})
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panicked: %v; want an error matching ErrInvalidKey", p)
					}
				}()
				err = c.call()
			}()
			if !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Fatalf("err = %v; want ErrInvalidKey", err)
			}
		})
	}
}
