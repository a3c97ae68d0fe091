package idemkafka

import (
	"strconv"

	"github.com/idempotency-go/idempotency/internal/msgguard"
	"github.com/twmb/franz-go/pkg/kgo"
)

// OffsetKey is the default key of a record: its topic, partition and
// offset, which name it for as long as the topic lives.
func OffsetKey(r *kgo.Record) string {
	return strconv.Itoa(len(r.Topic)) + ":" + r.Topic + strconv.FormatInt(int64(r.Partition), 10) + "@" + strconv.FormatInt(r.Offset, 10)
}

// RecordKey returns the guard key under which the handling of the record
// with key by the handler named name is recorded, for operators who look
// it up or forget it (Guard.Lookup, Guard.Forget). prefix is
// Config.KeyPrefix ("" means DefaultKeyPrefix). The name is
// length-prefixed, so that no two (name, key) pairs share a record.
func RecordKey(prefix, name, key string) string {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return msgguard.RecordKey(prefix, name, key)
}

// key returns r's key by c, or "" when it has none.
func (c *Config) key(r *kgo.Record) (string, error) {
	switch {
	case c.Key != nil:
		return c.Key(r)
	case c.Header != "":
		for _, h := range r.Headers {
			if h.Key == c.Header {
				return string(h.Value), nil
			}
		}
		return "", nil
	}
	return OffsetKey(r), nil
}

// fingerprint identifies a record's content: its key and value. The
// topic is left out, so that a record replayed into another topic (a retry
// topic) is the same record.
func fingerprint(r *kgo.Record) string { return msgguard.Fingerprint(r.Key, r.Value) }
