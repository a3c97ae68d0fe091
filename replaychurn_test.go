package idempotency_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

// TestReplayUnderChurn runs workers concurrently on one shard of one store.
// Each worker owns some keys, which no one else touches, and checks them
// against its own model exactly (fn runs iff the key has no outcome; a
// duplicate gets the key's current outcome) while the others churn the
// shared keys: short-lived records created, replayed, forgotten, deleted,
// released and expired, with sweeps, lists and watches, so that the shard
// reuses slots, packs its arena and rebuilds under the owners' reads. A
// result of a shared key must name that key and an execution of it that
// completed. Run it with -race.
func TestReplayUnderChurn(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock(time.Date(2031, 3, 4, 5, 6, 7, 8, time.UTC))
	s := memstore.New(&memstore.Options{Shards: 1, Now: clk.Now, SweepInterval: -1})
	t.Cleanup(func() { _ = s.Close() })
	g := newGuard(t, s, &idempotency.Config{Lease: time.Minute, TTL: time.Hour})
	ctx := context.Background()

	shared := make([]string, 300)
	for i := range shared {
		shared[i] = fmt.Sprintf("shared%d", i)
	}
	// completed[n] is the key of execution n, once it completed.
	var completed sync.Map
	var execs atomic.Int64

	const workers, steps = 4, 1500
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	stop := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- churnWorker(ctx, g, s, w, steps, shared, &completed, &execs)
		}()
	}
	var chaos sync.WaitGroup
	chaos.Add(1)
	go func() { // the clock, sweeps, lists and watches
		defer chaos.Done()
		rng := rand.New(rand.NewPCG(99, 1))
		for {
			select {
			case <-stop:
				return
			default:
			}
			switch rng.IntN(4) {
			case 0:
				clk.Advance(time.Second) // shared keys live a second or two
			case 1:
				if _, err := s.Sweep(ctx); err != nil {
					errs <- err
					return
				}
			case 2:
				_ = s.List(ctx, "shared", func(r idempotency.Record) bool {
					return r.Key != ""
				})
			case 3:
				if _, release, err := s.Watch(ctx, shared[rng.IntN(len(shared))]); err == nil {
					release()
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	chaos.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// What the store counts is what it holds.
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	var bytes int64
	if err := s.List(ctx, "", func(r idempotency.Record) bool {
		n++
		bytes += memstore.RecordOverhead + int64(len(r.Key)+len(r.Fingerprint)+len(r.Value))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if s.Len() != n || s.Bytes() != bytes {
		t.Fatalf("the store counts %d records, %d bytes; it lists %d, %d", s.Len(), s.Bytes(), n, bytes)
	}
}

func churnWorker(ctx context.Context, g *idempotency.Guard, s *memstore.Store, w, steps int, shared []string, completed *sync.Map, execs *atomic.Int64) error {
	rng := rand.New(rand.NewPCG(uint64(w), 3))
	own := make([]string, 40)
	for i := range own {
		own[i] = fmt.Sprintf("own%d-%d", w, i)
	}
	m := map[string][]byte{} // the owned keys' outcomes, as JSON
	for step := range steps {
		n := int(execs.Add(1))
		if rng.IntN(2) == 0 { // an owned key: exact
			key := own[rng.IntN(len(own))]
			if rng.IntN(6) == 0 {
				if err := g.Forget(ctx, key); err != nil {
					return err
				}
				delete(m, key)
				continue
			}
			typ, pad := rng.IntN(modelTypes), strings.Repeat("o", rng.IntN(100))
			v, err, ran := modelCall(ctx, g, typ, key, n, pad, false, idempotency.WithTTL(idempotency.NoExpiry))
			raw, had := m[key]
			what := fmt.Sprintf("worker %d, step %d: Do[%d](%q)", w, step, typ, key)
			switch {
			case had == ran:
				return fmt.Errorf("%s = %v, %v: ran fn %v, the key had an outcome %v", what, v, err, ran, had)
			case ran:
				if err != nil || !reflect.DeepEqual(v, modelValue(typ, key, n, pad)) {
					return fmt.Errorf("%s = %v, %v; want fn's value", what, v, err)
				}
				m[key], _ = json.Marshal(v)
			default:
				want, derr := modelDecode(idempotency.JSONCodec{}, typ, raw)
				switch {
				case derr != nil && !errors.Is(err, idempotency.ErrResultUnavailable):
					return fmt.Errorf("%s = %v, %v; want ErrResultUnavailable for %s", what, v, err, raw)
				case derr == nil && (err != nil || !reflect.DeepEqual(v, want)):
					return fmt.Errorf("%s = %#v, %v; want %#v", what, v, err, want)
				}
			}
			continue
		}
		key := shared[rng.IntN(len(shared))]
		switch op := rng.IntN(10); {
		case op < 6:
			// Shared keys hold modelPair results only: a result must be
			// an execution of this very key that completed.
			fail := op == 0
			v, err := idempotency.Do(ctx, g, key, func(context.Context) (modelPair, error) {
				if fail {
					return modelPair{}, errors.New("fn failed")
				}
				completed.Store(n, key)
				return modelPair{N: n, K: key}, nil
			}, idempotency.WithTTL(time.Minute+time.Duration(rng.IntN(2))*time.Minute))
			switch {
			case errors.Is(err, idempotency.ErrInProgress), fail && err != nil:
			case errors.Is(err, idempotency.ErrNotRecorded): // forgotten as it ran
				if v.N != n || v.K != key {
					return fmt.Errorf("worker %d: Do(%q) = %+v, %v; want fn's value", w, key, v, err)
				}
			case err != nil:
				return fmt.Errorf("worker %d: Do(%q): %v", w, key, err)
			default:
				if k, ok := completed.Load(v.N); v.K != key || !ok || k != key {
					return fmt.Errorf("worker %d: Do(%q) = %+v, an execution of %v", w, key, v, k)
				}
			}
		case op < 7:
			if err := g.Forget(ctx, key); err != nil {
				return err
			}
		case op < 8:
			if err := s.Delete(ctx, key); err != nil {
				return err
			}
		default:
			if r, err := s.Get(ctx, key); err == nil && r.Key != key {
				return fmt.Errorf("worker %d: Get(%q) = the record of %q", w, key, r.Key)
			}
		}
	}
	return nil
}
