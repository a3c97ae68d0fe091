package idemkafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/idempotency-go/idempotency"
)

// Config configures New. The zero value, like a nil *Config, means
// defaults.
type Config struct {
	// Name identifies the handler's effect. Handlers with different
	// effects on the same records (consumer groups that send an e-mail,
	// update an index) need distinct names, or the second would find every
	// record handled. Members of one group share it. Default "".
	Name string
	// Header names the record header whose value is the key, typically an
	// id the producer sets once per logical message, so that a record
	// produced twice (a producer retry without idempotence, a replay into
	// another topic) is handled once. A record without it is skipped.
	// Default "": the record's topic, partition and offset (OffsetKey).
	Header string
	// Key returns the key of a record, replacing Header; an error or ""
	// skips the record. Default nil.
	Key func(r *kgo.Record) (string, error)
	// KeyPrefix starts every record key, to keep these records apart from
	// other users of the store. Default "idemkafka:".
	KeyPrefix string
	// BusyDelay is how long Run waits before it tries again a record
	// whose key another consumer is handling. Default 1s.
	BusyDelay time.Duration
	// RetryDelay is how long Run waits before it tries again a record
	// whose handler failed, or whose key could not be checked. Default 1s.
	RetryDelay time.Duration
	// TTL is how long a handled record is remembered: keep it longer than
	// redeliveries and replays can come (the topic's retention, when
	// groups may be reset to the start). Default 0: the guard's
	// Config.TTL.
	TTL time.Duration
	// OnSkip is called by Run for a record that can never be handled (an
	// error matching ErrSkip), before its offset is committed past it: to
	// log it, or to produce it to a dead-letter topic. Default: log it at
	// Warn on the guard's Logger.
	OnSkip func(ctx context.Context, r *kgo.Record, err error)
}

// Defaults of Config.
const (
	// DefaultKeyPrefix starts record keys.
	DefaultKeyPrefix = "idemkafka:"
	// DefaultBusyDelay is the default Config.BusyDelay.
	DefaultBusyDelay = time.Second
	// DefaultRetryDelay is the default Config.RetryDelay.
	DefaultRetryDelay = time.Second
)

func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.KeyPrefix == "" {
		d.KeyPrefix = DefaultKeyPrefix
	}
	d.BusyDelay = positive("BusyDelay", d.BusyDelay, DefaultBusyDelay)
	d.RetryDelay = positive("RetryDelay", d.RetryDelay, DefaultRetryDelay)
	if d.TTL < 0 && d.TTL != idempotency.NoExpiry {
		panic(fmt.Sprintf("idempotency: idemkafka: invalid Config.TTL %v (want > 0, 0 for the guard's, or idempotency.NoExpiry)", d.TTL))
	}
	return d
}

func positive(name string, d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		panic(fmt.Sprintf("idempotency: idemkafka: invalid Config.%s %v (want > 0, or 0 for the default)", name, d))
	}
	return d
}
