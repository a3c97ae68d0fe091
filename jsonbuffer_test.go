package idempotency_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// The default codec encodes first calls' results into reused buffers
// (jsonbuffer.go). What a record holds must be what json.Marshal gives, and
// each record must keep its own bytes.

type htmlish struct {
	Name string            `json:"name"`
	Tags []string          `json:"tags"`
	Meta map[string]string `json:"meta,omitempty"`
}

type upper string

func (u upper) MarshalJSON() ([]byte, error) { return json.Marshal(strings.ToUpper(string(u))) }

// stored runs a first call of key returning v and returns the bytes its
// record holds.
func stored[T any](t *testing.T, g *idempotency.Guard, key string, v T) []byte {
	t.Helper()
	if _, err := idempotency.Do(context.Background(), g, key, func(context.Context) (T, error) { return v, nil }); err != nil {
		t.Fatal(err)
	}
	rec, err := g.Lookup(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Value
}

func TestEncodingMatchesMarshal(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil)
	for _, c := range []struct {
		name string
		v    any
	}{
		{"HTML", htmlish{Name: "<a href='x'>&</a>", Tags: []string{"é", "\u2028"}, Meta: map[string]string{"b": "2", "a": "1"}}},
		{"NilSlice", htmlish{}},
		{"Marshaler", upper("loud")},
		{"Float", 1e21},
		{"Large", strings.Repeat("x", 100<<10)},
		{"Map", map[string]int{"z": 1, "a": 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []byte
			switch v := c.v.(type) {
			case htmlish:
				got = stored(t, g, c.name, v)
			case upper:
				got = stored(t, g, c.name, v)
			case float64:
				got = stored(t, g, c.name, v)
			case string:
				got = stored(t, g, c.name, v)
			case map[string]int:
				got = stored(t, g, c.name, v)
			}
			want, err := json.Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("stored %q, json.Marshal gives %q", got, want)
			}
		})
	}
}

// Many first calls in a row, of results of several lengths: every record
// keeps its own value, and duplicates replay it, with and without the
// guard's local cache (which keeps recorded bytes itself).
func TestEncodedRecordsKeepTheirBytes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cfg  *idempotency.Config
	}{
		{"Default", nil},
		{"LocalCache", &idempotency.Config{LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Hour}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := newGuard(t, nil, c.cfg)
			ctx := context.Background()
			result := func(i int) htmlish {
				return htmlish{Name: fmt.Sprint("n", i), Tags: []string{strings.Repeat("t", (i*37)%300)}}
			}
			const n = 50
			for i := range n {
				if _, err := idempotency.Do(ctx, g, fmt.Sprint("k", i), func(context.Context) (htmlish, error) { return result(i), nil }); err != nil {
					t.Fatal(err)
				}
			}
			for i := range n {
				key := fmt.Sprint("k", i)
				rec, err := g.Lookup(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := json.Marshal(result(i))
				if string(rec.Value) != string(want) {
					t.Fatalf("%s holds %q, want %q", key, rec.Value, want)
				}
				got, err := idempotency.Do(ctx, g, key, func(context.Context) (htmlish, error) {
					t.Errorf("%s ran again", key)
					return htmlish{}, nil
				})
				if err != nil || got.Name != result(i).Name || got.Tags[0] != result(i).Tags[0] {
					t.Fatalf("%s replayed %+v, %v; want %+v", key, got, err, result(i))
				}
			}
		})
	}
}
