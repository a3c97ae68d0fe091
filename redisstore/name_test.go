package redisstore_test

import (
	"testing"

	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
)

// TestRedisKeyGolden: a key's Redis name is the prefix and the whole
// unpadded base64url SHA-256 digest of the key in a hash tag, the digests
// computed apart (Python's hashlib): a shorter or other digest would let
// two keys share a record.
func TestRedisKeyGolden(t *testing.T) {
	t.Parallel()
	// No server: naming a key sends nothing.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	for _, tc := range []struct {
		name, prefix, key, want string
	}{
		{"DefaultPrefix", "", "k", "idempotency:{glTDKakoUPbVOd03b0gW7idkUX2l4CNVFK9DMWRIDXo}"},
		{"Prefix", "billing:", "invoice:42", "billing:{XNI-szsaJUkvk5o5Vh_4xxjoT4mw1krQnAAHabOdkpw}"},
		{"EmptyKey", "p:", "", "p:{47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU}"},
		{"OddBytes", "p:", "ü/\x00", "p:{kkyUS0QdMLVbhkueFjoPd0u8nu2VtATXwk9r8Oof_U0}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := redisstore.New(c, &redisstore.Options{Prefix: tc.prefix})
			t.Cleanup(func() { _ = s.Close() })
			if got := s.RedisKey(tc.key); got != tc.want {
				t.Fatalf("RedisKey(%q) = %q; want %q", tc.key, got, tc.want)
			}
		})
	}
}
