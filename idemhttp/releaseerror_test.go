package idemhttp

import (
	"context"
	"errors"
	"testing"
)

// The error a released response leaves for the Observer says why, and the
// status when one was written; it matches ErrDiscarded, and
// context.Canceled only when the request is to be retried.
func TestReleaseErrorSaysWhy(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		err      releaseError
		want     string
		canceled bool
	}{
		{"WithStatus", releaseError{status: 503, reason: "not a final outcome"}, "idempotency: idemhttp: response not kept: not a final outcome (status 503)", false},
		{"NoStatus", releaseError{reason: "the handler panicked: boom"}, "idempotency: idemhttp: response not kept: the handler panicked: boom", false},
		{"Retry", releaseError{status: 429, reason: "not a final outcome", retry: true}, "idempotency: idemhttp: response not kept: not a final outcome (status 429)", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.err.Error(); got != c.want {
				t.Fatalf("Error() = %q, want %q", got, c.want)
			}
			if !errors.Is(&c.err, ErrDiscarded) || errors.Is(&c.err, context.Canceled) != c.canceled {
				t.Fatalf("Is(ErrDiscarded) = %v, Is(context.Canceled) = %v; want true, %v", errors.Is(&c.err, ErrDiscarded), errors.Is(&c.err, context.Canceled), c.canceled)
			}
		})
	}
}
