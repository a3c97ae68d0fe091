package idemnats

import (
	"errors"
	"strconv"

	"github.com/idempotency-go/idempotency/internal/msgguard"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoKey: a message has no key (Config.Key returned an error or "").
var ErrNoKey = errors.New("idempotency: idemnats: message has no key")

// MessageKey is the default Config.Key: the stream's name with the
// Nats-Msg-Id header, or with the stream sequence when the message has no
// such header. A message that did not come from a JetStream consumer has
// neither and gets an error matching ErrNoKey.
func MessageKey(msg jetstream.Msg) (string, error) {
	md, err := msg.Metadata()
	if err != nil {
		return "", errors.Join(ErrNoKey, err)
	}
	stream := strconv.Itoa(len(md.Stream)) + ":" + md.Stream
	if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
		return stream + "id:" + id, nil
	}
	return stream + "seq:" + strconv.FormatUint(md.Sequence.Stream, 10), nil
}

// RecordKey returns the guard key under which the handling of the message
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

// fingerprint identifies a message's content: subject and data.
func fingerprint(msg jetstream.Msg) string {
	return msgguard.Fingerprint([]byte(msg.Subject()), msg.Data())
}
