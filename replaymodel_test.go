package idempotency_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

// The result types of the replay model: immutable ones (kept in records'
// memos and shared), a SharedResult, and a mutable one (decoded afresh).
type (
	modelPair struct {
		N int
		K string
	}
	modelShared struct{ Items []string }
)

func (modelShared) SharedResult() {}

const modelTypes = 5

// modelCall runs Do[T] for the type numbered typ on key, with fn returning
// the value of execution n (fail: fn's error instead). It returns the
// result as any, and whether fn ran.
func modelCall(ctx context.Context, g *idempotency.Guard, typ int, key string, n int, pad string, fail bool, opts ...idempotency.CallOption) (v any, err error, ran bool) {
	errFn := errors.New("fn failed")
	do := func(fn func() any) {
		switch typ {
		case 0:
			v, err = idempotency.Do(ctx, g, key, func(context.Context) (int, error) { ran = true; return fn().(int), failIf(fail, errFn) }, opts...)
		case 1:
			v, err = idempotency.Do(ctx, g, key, func(context.Context) (string, error) { ran = true; return fn().(string), failIf(fail, errFn) }, opts...)
		case 2:
			v, err = idempotency.Do(ctx, g, key, func(context.Context) (modelPair, error) { ran = true; return fn().(modelPair), failIf(fail, errFn) }, opts...)
		case 3:
			v, err = idempotency.Do(ctx, g, key, func(context.Context) (modelShared, error) {
				ran = true
				return fn().(modelShared), failIf(fail, errFn)
			}, opts...)
		case 4:
			v, err = idempotency.Do(ctx, g, key, func(context.Context) ([]string, error) { ran = true; return fn().([]string), failIf(fail, errFn) }, opts...)
		}
	}
	do(func() any { return modelValue(typ, key, n, pad) })
	return v, err, ran
}

func failIf(fail bool, err error) error {
	if fail {
		return err
	}
	return nil
}

// modelValue is the result of execution n of key, as type typ.
func modelValue(typ int, key string, n int, pad string) any {
	switch typ {
	case 0:
		return n
	case 1:
		return key + "#" + fmt.Sprint(n) + pad
	case 2:
		return modelPair{N: n, K: key + pad}
	case 3:
		return modelShared{Items: []string{key, fmt.Sprint(n), pad}}
	}
	return []string{key, fmt.Sprint(n), pad}
}

// modelDecode decodes raw as type typ with codec c, afresh: what a replay
// must give.
func modelDecode(c idempotency.Codec, typ int, raw []byte) (any, error) {
	ptr := reflect.New([]reflect.Type{
		reflect.TypeFor[int](), reflect.TypeFor[string](), reflect.TypeFor[modelPair](),
		reflect.TypeFor[modelShared](), reflect.TypeFor[[]string](),
	}[typ])
	err := c.Unmarshal(raw, ptr.Interface())
	return ptr.Elem().Interface(), err
}

type modelRecord struct {
	raw              []byte // the stored outcome, as JSON
	created, expires time.Time
}

// TestReplayMatchesModel drives one store, read and written by two guards
// whose codecs decode the same bytes differently, through random calls of
// five result types on many keys in one shard, with Forget, Store.Delete,
// failures, expiry on the store's clock and sweeps, so that slots are
// reused, the arena packed and the shard rebuilt while values are kept in
// the records' memos. Every call must run fn exactly when the model has no
// live record, and a duplicate must get its own guard's fresh decoding of
// the key's current outcome; the store's times and counters must match.
//
// Local: one guard with a local cache, on the store's clock, forgets
// every key it forgets itself, so its cache must never answer for a
// forgotten or expired outcome either.
func TestReplayMatchesModel(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("Seed", seed), func(t *testing.T) {
			t.Parallel()
			runReplayModel(t, seed, 6000, false)
		})
	}
	t.Run("Local", func(t *testing.T) {
		t.Parallel()
		runReplayModel(t, 3, 6000, true)
	})
}

func runReplayModel(t *testing.T, seed uint64, steps int, local bool) {
	rng := rand.New(rand.NewPCG(seed, 7))
	clk := newClock()
	s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1})
	t.Cleanup(func() { _ = s.Close() })
	cfg := idempotency.Config{Lease: time.Second}
	gs := []*idempotency.Guard{newGuard(t, s, &cfg), newGuard(t, s, &idempotency.Config{Lease: time.Second, Codec: offsetCodec{}})}
	codecs := []idempotency.Codec{idempotency.JSONCodec{}, offsetCodec{}}
	if local {
		cfg.LocalCache = idempotency.LocalCacheConfig{MaxAge: time.Hour, MaxEntries: 300}
		g := newGuardAt(t, s, &cfg, clk)
		gs, codecs = []*idempotency.Guard{g, g}, []idempotency.Codec{idempotency.JSONCodec{}, idempotency.JSONCodec{}}
	}
	ctx := context.Background()
	keys := make([]string, 700)
	for i := range keys {
		keys[i] = fmt.Sprintf("key%d%s", i, strings.Repeat("/", i%5))
	}
	ttls := []time.Duration{time.Second, time.Minute, time.Hour, idempotency.NoExpiry}
	advances := []time.Duration{500 * time.Millisecond, time.Second, 30 * time.Second, 2 * time.Minute, 2 * time.Hour}
	m := map[string]modelRecord{}
	live := func(k string) (modelRecord, bool) {
		r, ok := m[k]
		if ok && !r.expires.IsZero() && !clk.Now().Before(r.expires) {
			delete(m, k)
			ok = false
		}
		return r, ok
	}
	execs := 0
	for step := range steps {
		phase := (step / 1000) % 3 // fill, drain, mix
		key := keys[rng.IntN(len(keys))]
		if phase == 1 && len(m) > 30 {
			for k := range m {
				key = k
				break
			}
		}
		op := rng.IntN(100)
		switch {
		case phase == 0 && op < 85, phase == 1 && op < 20, phase == 2 && op < 70:
			gi, typ := rng.IntN(2), rng.IntN(modelTypes)
			g := gs[gi]
			pad := strings.Repeat("p", rng.IntN(200))
			fail := rng.IntN(10) == 0
			ttl := ttls[rng.IntN(len(ttls))]
			execs++
			v, err, ran := modelCall(ctx, g, typ, key, execs, pad, fail, idempotency.WithTTL(ttl))
			rec, had := live(key)
			what := fmt.Sprintf("step %d: guard %d, Do[%d](%q)", step, gi, typ, key)
			switch {
			case had && ran:
				t.Fatalf("%s ran fn; the key has an outcome", what)
			case !had && !ran:
				t.Fatalf("%s = %v, %v without running fn; the key has no outcome", what, v, err)
			case ran && fail:
				if err == nil || err.Error() != "fn failed" {
					t.Fatalf("%s = %v; want fn's error", what, err)
				}
			case ran:
				if err != nil || !reflect.DeepEqual(v, modelValue(typ, key, execs, pad)) {
					t.Fatalf("%s = %v, %v; want fn's value", what, v, err)
				}
				raw, _ := json.Marshal(v)
				now := clk.Now()
				r := modelRecord{raw: raw, created: now}
				if ttl > 0 {
					r.expires = now.Add(ttl)
				}
				m[key] = r
			default:
				want, derr := modelDecode(codecs[gi], typ, rec.raw)
				if derr != nil {
					if !errors.Is(err, idempotency.ErrResultUnavailable) {
						t.Fatalf("%s = %v, %v; want ErrResultUnavailable (%s cannot be read so: %v)", what, v, err, rec.raw, derr)
					}
					break
				}
				if err != nil || !reflect.DeepEqual(v, want) {
					t.Fatalf("%s = %#v, %v; want %#v, decoded from %s", what, v, err, want, rec.raw)
				}
				if l, ok := v.([]string); ok && len(l) > 0 {
					l[0] = "scribbled" // the caller's own copy
				}
			}
		case op < 80:
			if local || rng.IntN(2) == 0 {
				if err := gs[rng.IntN(2)].Forget(ctx, key); err != nil {
					t.Fatal(err)
				}
			} else if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			delete(m, key)
		case op < 93:
			clk.Advance(advances[rng.IntN(len(advances))])
		default:
			if _, err := s.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if step%100 == 99 {
			checkReplayModel(t, step, s, m, live, keys)
			// Every outcome replays, through either guard: reads made
			// before the shard was packed or rebuilt are read again.
			for _, key := range keys {
				rec, had := live(key)
				if !had {
					continue
				}
				gi, typ := rng.IntN(2), rng.IntN(modelTypes)
				v, err, ran := modelCall(ctx, gs[gi], typ, key, 0, "", false)
				want, derr := modelDecode(codecs[gi], typ, rec.raw)
				switch {
				case ran:
					t.Fatalf("step %d: guard %d, Do[%d](%q) ran fn; the key has an outcome", step, gi, typ, key)
				case derr != nil && !errors.Is(err, idempotency.ErrResultUnavailable):
					t.Fatalf("step %d: guard %d, Do[%d](%q) = %v, %v; want ErrResultUnavailable for %s", step, gi, typ, key, v, err, rec.raw)
				case derr == nil && (err != nil || !reflect.DeepEqual(v, want)):
					t.Fatalf("step %d: guard %d, Do[%d](%q) = %#v, %v; want %#v", step, gi, typ, key, v, err, want)
				}
			}
		}
	}
}

// checkReplayModel checks every key's record (times, value) and the
// store's counters against the model.
func checkReplayModel(t *testing.T, step int, s *memstore.Store, m map[string]modelRecord, live func(string) (modelRecord, bool), keys []string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	var bytes int64
	for _, k := range keys {
		want, ok := live(k)
		got, err := s.Get(ctx, k)
		if !ok {
			if !errors.Is(err, idempotency.ErrNotFound) {
				t.Fatalf("step %d: Get(%q) = %+v, %v; the model has none", step, k, got, err)
			}
			continue
		}
		n++
		bytes += memstore.RecordOverhead + int64(len(got.Key)+len(got.Fingerprint)+len(got.Value))
		if err != nil || got.Key != k || got.Status != idempotency.StatusCompleted || string(got.Value) != string(want.raw) ||
			!got.CreatedAt.Equal(want.created) || !got.UpdatedAt.Equal(want.created) || !got.ExpiresAt.Equal(want.expires) {
			t.Fatalf("step %d: Get(%q) = %+v, %v; model: %s created %v, expires %v", step, k, got, err, want.raw, want.created, want.expires)
		}
	}
	if s.Len() != n || s.Bytes() != bytes {
		t.Fatalf("step %d: the store counts %d records, %d bytes; its records add up to %d, %d", step, s.Len(), s.Bytes(), n, bytes)
	}
}
