package redisstore

import (
	"errors"
	"fmt"
)

// ErrNoPubSub is returned by Watch when Options.PubSub is PubSubOff.
var ErrNoPubSub = errors.New("idempotency: redisstore: notifications are off (Options.PubSub = PubSubOff)")

// ErrClosed is returned by Watch after Close.
var ErrClosed = errors.New("idempotency: redisstore: store closed")

func wrap(op string, err error) error {
	return fmt.Errorf("idempotency: redisstore: %s: %w", op, err)
}
