// Package msgguard is what the message consumers (idemnats, idemkafka)
// share: the record key of a message's handling, the fingerprint of its
// content, and one guarded run of a handler.
package msgguard

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/idempotency-go/idempotency"
)

// RecordKey returns the guard key of the handling of the message with key
// by the handler named name. The name is length-prefixed, so that no two
// (name, key) pairs share a record.
func RecordKey(prefix, name, key string) string {
	return prefix + strconv.Itoa(len(name)) + ":" + name + key
}

// Fingerprint identifies a message's content: SHA-256 of head, framed by
// its length, and body.
func Fingerprint(head, body []byte) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(head)))])
	h.Write(head)
	h.Write(body)
	return string(h.Sum(nil))
}

// Run runs h at most once for key, the fingerprint fp added to opts, and
// reports whether h ran in this call besides the guard's error.
func Run(ctx context.Context, g *idempotency.Guard, key, fp string, opts []idempotency.CallOption, h func(context.Context) error) (ran bool, err error) {
	opts = append(slices.Clip(opts), idempotency.WithFingerprint(fp))
	_, err = idempotency.Do(ctx, g, key, func(ctx context.Context) (struct{}, error) {
		ran = true
		return struct{}{}, h(ctx)
	}, opts...)
	return ran, err
}
