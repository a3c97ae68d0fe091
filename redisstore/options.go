package redisstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// DefaultPrefix is the key prefix used when Options.Prefix is empty.
const DefaultPrefix = "idempotency:"

// PubSub selects how a Store notifies waiting duplicates.
type PubSub int

const (
	// PubSubAuto uses sharded pub/sub (SPUBLISH, SSUBSCRIBE) on a
	// *redis.ClusterClient and classic pub/sub (PUBLISH, SUBSCRIBE) on
	// every other client.
	PubSubAuto PubSub = iota
	// PubSubClassic uses PUBLISH and SUBSCRIBE. On a Cluster, PUBLISH is
	// broadcast to every node.
	PubSubClassic
	// PubSubSharded uses SPUBLISH and SSUBSCRIBE (Redis 7+).
	PubSubSharded
	// PubSubOff publishes nothing; the Store does not implement Watch
	// usefully (it returns an error) and waiting duplicates poll.
	PubSubOff
)

// Options configures a Store. A nil *Options, like the zero value, means
// defaults.
type Options struct {
	// Prefix is prepended to every Redis key and channel of the store, so
	// that several stores (or applications) can share a database.
	// Default: DefaultPrefix ("idempotency:"). A prefix may not hold "{"
	// or "}" unless AllowHashTagPrefix is set.
	Prefix string
	// AllowHashTagPrefix allows braces in Prefix. Redis Cluster hashes only
	// the part of a key name between the first "{" and the next "}", so a
	// prefix such as "app{1}:" puts every record of the store in one hash
	// slot, on one master: no spreading of load or memory. Default: false,
	// and Validate refuses such a prefix.
	AllowHashTagPrefix bool
	// PubSub chooses the notification mechanism. Default: PubSubAuto.
	PubSub PubSub
	// Tombstone is how long Release and Delete remember a key's last
	// token, so that a claim immediately after gets a larger one even if
	// it lands within the same microsecond. Default (0): 10s; negative is
	// invalid. Tokens are also based on the server clock, so after the
	// tombstone is gone they stay larger unless that clock steps back by
	// more than this.
	Tombstone time.Duration
	// ReadFirst says when a claim first reads the key with plain commands
	// (HMGET and PEXPIRETIME, one round trip, no script): a duplicate of
	// a finished call then costs Redis a fraction of the claim script,
	// and a new key one round trip more. Default (the zero value):
	// idemtype.ReadFirstAuto, reading first while most of the Store's
	// recent claims were such duplicates. A Store on a *redis.ClusterClient
	// that reads from replicas (ReadOnly, RouteByLatency or RouteRandomly)
	// never reads first: a replica may still hold a record the primary
	// has deleted.
	ReadFirst idemtype.ReadFirst
}

// Validate reports options New cannot use: a Prefix holding "{" or "}"
// without AllowHashTagPrefix, an unknown PubSub, a negative Tombstone, an
// unknown ReadFirst. The error wraps ErrInvalidOptions. A nil *Options is
// valid.
func (o *Options) Validate() error {
	switch {
	case o == nil:
		return nil
	case !o.AllowHashTagPrefix && strings.ContainsAny(o.Prefix, "{}"):
		return fmt.Errorf("%w: Prefix %q holds a brace: on Redis Cluster it would pin every record to one hash slot; "+
			"leave braces out, or set AllowHashTagPrefix to mean it", ErrInvalidOptions, o.Prefix)
	case o.PubSub < PubSubAuto || o.PubSub > PubSubOff:
		return fmt.Errorf("%w: unknown PubSub %d", ErrInvalidOptions, o.PubSub)
	case o.Tombstone < 0:
		return fmt.Errorf("%w: negative Tombstone %v", ErrInvalidOptions, o.Tombstone)
	case !o.ReadFirst.Valid():
		return fmt.Errorf("%w: unknown ReadFirst %d", ErrInvalidOptions, o.ReadFirst)
	}
	return nil
}
