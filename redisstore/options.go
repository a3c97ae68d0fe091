package redisstore

import "time"

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
	// Default: DefaultPrefix ("idempotency:"). A prefix holding "{" or "}"
	// changes which part of the key Redis Cluster hashes; leave braces out
	// to spread records over all slots.
	Prefix string
	// PubSub chooses the notification mechanism. Default: PubSubAuto.
	PubSub PubSub
	// Tombstone is how long Release and Delete remember a key's last
	// token, so that a claim immediately after gets a larger one even if
	// it lands within the same microsecond. Default: 10s. Tokens are also
	// based on the server clock, so after the tombstone is gone they stay
	// larger unless that clock steps back by more than this.
	Tombstone time.Duration
}
