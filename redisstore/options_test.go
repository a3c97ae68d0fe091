package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/redisstore"
)

// TestOptionsValidate: options New cannot use are refused with an error
// wrapping ErrInvalidOptions that names the problem, and New panics with
// it; braces in a prefix pass only with AllowHashTagPrefix.
func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts *redisstore.Options
		want string // in the error; empty: valid
	}{
		{"nil", nil, ""},
		{"zero", &redisstore.Options{}, ""},
		{"plain prefix", &redisstore.Options{Prefix: "billing:idem:"}, ""},
		{"hash tag prefix", &redisstore.Options{Prefix: "app{1}:"}, `Prefix "app{1}:" holds a brace`},
		{"open brace", &redisstore.Options{Prefix: "a{"}, "AllowHashTagPrefix"},
		{"close brace", &redisstore.Options{Prefix: "}a"}, "AllowHashTagPrefix"},
		{"hash tag allowed", &redisstore.Options{Prefix: "app{1}:", AllowHashTagPrefix: true}, ""},
		{"unknown pubsub", &redisstore.Options{PubSub: 9}, "unknown PubSub 9"},
		{"negative pubsub", &redisstore.Options{PubSub: -1}, "unknown PubSub -1"},
		{"negative tombstone", &redisstore.Options{Tombstone: -time.Second}, "negative Tombstone"},
		{"read first always", &redisstore.Options{ReadFirst: idemtype.ReadFirstAlways}, ""},
		{"unknown read first", &redisstore.Options{ReadFirst: 7}, "unknown ReadFirst 7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.opts.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, redisstore.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) ||
				!strings.HasPrefix(err.Error(), "idempotency: redisstore: ") {
				t.Fatalf("Validate = %v, want ErrInvalidOptions saying %q", err, tc.want)
			}
			defer func() {
				if p := recover(); p != err && (p == nil || p.(error).Error() != err.Error()) {
					t.Fatalf("New panicked with %v, want %v", p, err)
				}
			}()
			redisstore.New(nil, tc.opts)
		})
	}
}

// TestHashTagPrefix: with AllowHashTagPrefix, the prefix is used as given
// and the store works.
func TestHashTagPrefix(t *testing.T) {
	t.Parallel()
	c, _ := client(t, testserver.StartRedis(t).Addr())
	s := newStore(t, c, &redisstore.Options{Prefix: prefix(t) + "{tenant}:", AllowHashTagPrefix: true})
	ctx := context.Background()
	cl, err := s.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute, TTL: time.Hour})
	if err != nil || !cl.Acquired {
		t.Fatalf("Claim = %+v, %v", cl, err)
	}
	if !strings.Contains(s.RedisKey("k"), "{tenant}:{") {
		t.Fatalf("RedisKey = %q, want the prefix kept", s.RedisKey("k"))
	}
	if n, err := c.Exists(ctx, s.RedisKey("k")).Result(); err != nil || n != 1 {
		t.Fatalf("record under %q: %d, %v", s.RedisKey("k"), n, err)
	}
}
