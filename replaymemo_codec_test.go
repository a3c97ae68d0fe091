package idempotency_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/idempotency-go/idempotency"
)

// refusingCodec encodes as JSON and refuses every stored value it reads:
// a guard with it (another key for an encrypting codec, another format)
// cannot read records another guard wrote.
type refusingCodec struct{}

var errRefused = errors.New("refusingCodec: not mine")

func (refusingCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }
func (refusingCodec) Unmarshal([]byte, any) error   { return errRefused }

// offsetCodec decodes ints with an offset: the same bytes decode to
// another value than JSONCodec's.
type offsetCodec struct{}

func (offsetCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }
func (offsetCodec) Unmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	if p, ok := v.(*int); ok {
		*p += 1000
	}
	return nil
}

// Two guards on one store, with different codecs: each replay is its own
// guard's decoding of the stored bytes. A value one guard decoded and kept
// in the record's memo must not answer for a guard whose codec reads the
// bytes otherwise (or cannot read them at all).
func TestReplayMemoPerCodec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name  string
		codec idempotency.Codec
		check func(t *testing.T, v int, err error)
	}{
		{"refusing", refusingCodec{}, func(t *testing.T, v int, err error) {
			if !errors.Is(err, idempotency.ErrResultUnavailable) || !errors.Is(err, errRefused) {
				t.Fatalf("replay through a codec that cannot read the record = %d, %v; want ErrResultUnavailable", v, err)
			}
		}},
		{"offset", offsetCodec{}, func(t *testing.T, v int, err error) {
			if err != nil || v != 1007 {
				t.Fatalf("replay through the other codec = %d, %v; want 1007", v, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, nil)
			a := newGuard(t, s, nil)
			b := newGuard(t, s, &idempotency.Config{Codec: tc.codec})
			fn := func(context.Context) (int, error) { return 7, nil }
			if _, err := idempotency.Do(ctx, a, "k", fn); err != nil {
				t.Fatal(err)
			}
			// a replays, and keeps its decoding in the record's memo.
			if v, err := idempotency.Do(ctx, a, "k", fn); err != nil || v != 7 {
				t.Fatalf("replay through a = %d, %v", v, err)
			}
			v, err := idempotency.Do(ctx, b, "k", func(context.Context) (int, error) {
				t.Error("ran again")
				return 0, nil
			})
			tc.check(t, v, err)
		})
	}
}
