package idemnats

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/idempotency-go/idempotency"
)

// Config configures Wrap. The zero value, like a nil *Config, means
// defaults.
type Config struct {
	// Name identifies the handler's effect. Handlers with different
	// effects on the same messages (an e-mail, a search index) need
	// distinct names, or the second would find every message handled.
	// Instances of one consumer share it. Default "".
	Name string
	// Key returns the key of a message; an error terminates the message.
	// Default MessageKey.
	Key func(msg jetstream.Msg) (string, error)
	// KeyPrefix starts every record key, to keep these records apart from
	// other users of the store. Default "idemnats:".
	KeyPrefix string
	// BusyDelay is how long a message whose key another consumer holds is
	// left before its redelivery. Default 1s.
	BusyDelay time.Duration
	// RetryDelay is how long a message whose handler failed, or whose key
	// could not be checked, is left before its redelivery. Default 0: Nak,
	// redelivered as the consumer's BackOff says.
	RetryDelay time.Duration
	// TTL is how long a handled message is remembered: keep it longer than
	// redeliveries and replays can come. Default 0: the guard's
	// Config.TTL.
	TTL time.Duration
}

// Defaults of Config.
const (
	// DefaultKeyPrefix starts record keys.
	DefaultKeyPrefix = "idemnats:"
	// DefaultBusyDelay is the default Config.BusyDelay.
	DefaultBusyDelay = time.Second
)

func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.Key == nil {
		d.Key = MessageKey
	}
	if d.KeyPrefix == "" {
		d.KeyPrefix = DefaultKeyPrefix
	}
	switch {
	case d.BusyDelay == 0:
		d.BusyDelay = DefaultBusyDelay
	case d.BusyDelay < 0:
		panic(fmt.Sprintf("idempotency: idemnats: invalid Config.BusyDelay %v (want > 0, or 0 for the default)", d.BusyDelay))
	}
	if d.RetryDelay < 0 {
		panic(fmt.Sprintf("idempotency: idemnats: invalid Config.RetryDelay %v (want >= 0)", d.RetryDelay))
	}
	if d.TTL < 0 && d.TTL != idempotency.NoExpiry {
		panic(fmt.Sprintf("idempotency: idemnats: invalid Config.TTL %v (want > 0, 0 for the guard's, or idempotency.NoExpiry)", d.TTL))
	}
	return d
}
