package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

// model is the store as the rules of idemtype define it: a map and a
// token counter, with the bounds counted on live records only (a full
// memstore drops what expired before it refuses).
type model struct {
	recs       map[string]idemtype.Record
	token      idemtype.Token
	maxRecords int
	maxBytes   int64
}

func recSize(r idemtype.Record) int64 {
	return memstore.RecordOverhead + int64(len(r.Key)+len(r.Fingerprint)+len(r.Value))
}

func (m *model) live(key string, now time.Time) *idemtype.Record {
	r, ok := m.recs[key]
	if !ok || !idemtype.Live(&r, now) {
		delete(m.recs, key)
		return nil
	}
	return &r
}

func (m *model) usage(now time.Time) (n int, b int64) {
	for k := range m.recs {
		if r := m.live(k, now); r != nil {
			n++
			b += recSize(*r)
		}
	}
	return n, b
}

func (m *model) claim(req idemtype.ClaimRequest, now time.Time) (idemtype.Claim, bool) {
	rec := m.live(req.Key, now)
	switch v, abandoned := idemtype.JudgeClaim(rec, &req, now); v {
	case idemtype.Refuse:
		return idemtype.Claim{Record: *rec, Abandoned: abandoned}, false
	case idemtype.TakeOver:
		m.token++
		r := idemtype.Claimed(req, m.token, now)
		r.CreatedAt = rec.CreatedAt
		m.recs[req.Key] = r
		return idemtype.Claim{Acquired: true, TookOver: true, Record: r}, false
	}
	r := idemtype.Claimed(req, 0, now)
	n, b := m.usage(now)
	if n+1 > m.maxRecords || b+recSize(r) > m.maxBytes {
		return idemtype.Claim{}, true
	}
	m.token++
	r.Token = m.token
	m.recs[req.Key] = r
	return idemtype.Claim{Acquired: true, Record: r}, false
}

func (m *model) owned(key string, tok idemtype.Token, now time.Time) *idemtype.Record {
	if r := m.live(key, now); idemtype.Owns(r, tok, now) {
		return r
	}
	return nil
}

func sameRecord(a, b idemtype.Record) bool {
	return a.Key == b.Key && a.Fingerprint == b.Fingerprint && a.Status == b.Status && a.Token == b.Token &&
		string(a.Value) == string(b.Value) && a.LeaseUntil.Equal(b.LeaseUntil) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// TestMatchesModel drives random operations against a memstore and the
// model, on one clock, and checks after each that both agree on every
// reply and every record, that the store's counters of records and bytes
// add up to its records, and that watchers of a changed key were woken.
// Enough keys fall into one shard to grow, empty and rebuild it (shrink)
// many times over.
func TestMatchesModel(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("Seed", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, seed, 9000)
		})
	}
}

func runModel(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 42))
	clk := storetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	// Odd seeds run out of records first, even ones of bytes.
	const maxRecords = 700
	maxBytes := int64(maxRecords * 340)
	if seed%2 == 0 {
		maxBytes = maxRecords * 305
	}
	s := memstore.New(&memstore.Options{Shards: 2, Now: clk.Now, SweepInterval: -1, MaxRecords: maxRecords, MaxBytes: maxBytes})
	m := &model{recs: make(map[string]idemtype.Record), maxRecords: maxRecords, maxBytes: maxBytes}
	defer s.Close()
	ctx := context.Background()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d%s", i, strings.Repeat("x", i%7))
	}
	durs := []time.Duration{-1, time.Nanosecond, time.Second, time.Minute, time.Hour}
	type watcher struct {
		key  string
		ch   <-chan struct{}
		stop func()
	}
	var watchers []watcher
	var step int
	var what string
	// changed: a watcher of key must have been woken.
	changed := func(key string) {
		for _, w := range watchers {
			if w.key != key {
				continue
			}
			select {
			case <-w.ch:
			default:
				t.Fatalf("step %d: watcher of %q not woken by %s", step, key, what)
			}
		}
	}
	tokens := map[string]idemtype.Token{}
	// Phases: a burst that fills the store past its bounds, a drain that
	// empties it, and a mix, so that shards grow, refuse, shrink and
	// compact their expiry heaps.
	hot := 0
	for step = range steps {
		now := clk.Now()
		key := keys[rng.IntN(len(keys))]
		op := rng.IntN(100)
		switch (step / 1000) % 3 {
		case 0:
			if op < 80 || (op >= 90 && op < 97) { // no time passes
				op, key = 0, keys[hot%len(keys)]
				hot++
			}
			if step%1000 == 910 {
				// Some records expire, still counted: the claims that
				// find the store full drop them and go on.
				op = 90
			}
		case 1:
			if len(m.recs) < 40 {
				break // some records outlive the drain, to expire later
			}
			if op < 60 || (op >= 90 && op < 97) { // no time passes
				op = 67 + op%8 // delete
			} else if op < 70 {
				op = 55 // release
			}
			for k := range m.recs { // a key that has a record
				key = k
				break
			}
		}
		what = ""
		switch {
		case op < 35:
			req := idemtype.ClaimRequest{Key: key, Fingerprint: []string{"", "a", "bb"}[rng.IntN(3)],
				Lease: durs[1+rng.IntN(4)], TTL: durs[rng.IntN(5)], Takeover: rng.IntN(4) > 0}
			if req.TTL > 0 && req.TTL < req.Lease {
				req.TTL = req.Lease
			}
			what = fmt.Sprintf("Claim(%+v)", req)
			want, full := m.claim(req, now)
			got, err := s.Claim(ctx, req)
			switch {
			case full:
				if !errors.Is(err, memstore.ErrFull) {
					t.Fatalf("step %d: %s = %+v, %v; the model is full", step, what, got, err)
				}
			case err != nil:
				t.Fatalf("step %d: %s: %v; the model says %+v", step, what, err, want)
			case got.Acquired != want.Acquired || got.TookOver != want.TookOver || got.Abandoned != want.Abandoned || !sameRecord(got.Record, want.Record):
				t.Fatalf("step %d: %s =\n%+v, model\n%+v", step, what, got, want)
			}
			if got.Acquired {
				tokens[key] = got.Record.Token
				if got.TookOver {
					changed(key)
				}
			}
		case op < 55:
			tok := tokens[key]
			if rng.IntN(8) == 0 {
				tok++
			}
			out := idemtype.Outcome{Status: idemtype.Status(2 + rng.IntN(2)), Value: []byte(strings.Repeat("v", rng.IntN(300))), TTL: durs[rng.IntN(5)]}
			what = fmt.Sprintf("Complete(%q, %d, %d bytes)", key, tok, len(out.Value))
			r := m.owned(key, tok, now)
			err := s.Complete(ctx, key, tok, out)
			if (r == nil) != errors.Is(err, idemtype.ErrLeaseLost) || (r != nil && err != nil) {
				t.Fatalf("step %d: %s = %v; model owner %v", step, what, err, r != nil)
			}
			if r != nil {
				idemtype.Completed(r, out, now)
				m.recs[key] = *r
				changed(key)
			}
		case op < 62:
			tok := tokens[key]
			what = fmt.Sprintf("Release(%q, %d)", key, tok)
			r := m.owned(key, tok, now)
			err := s.Release(ctx, key, tok)
			if (r == nil) != errors.Is(err, idemtype.ErrLeaseLost) || (r != nil && err != nil) {
				t.Fatalf("step %d: %s = %v; model owner %v", step, what, err, r != nil)
			}
			if r != nil {
				delete(m.recs, key)
				changed(key)
			}
		case op < 67:
			tok := tokens[key]
			lease := durs[1+rng.IntN(4)]
			what = fmt.Sprintf("Extend(%q, %d, %v)", key, tok, lease)
			r := m.owned(key, tok, now)
			err := s.Extend(ctx, key, tok, lease)
			if (r == nil) != errors.Is(err, idemtype.ErrLeaseLost) || (r != nil && err != nil) {
				t.Fatalf("step %d: %s = %v; model owner %v", step, what, err, r != nil)
			}
			if r != nil {
				idemtype.Extended(r, lease, now)
				m.recs[key] = *r
			}
		case op < 75:
			what = fmt.Sprintf("Delete(%q)", key)
			had := m.live(key, now) != nil
			delete(m.recs, key)
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if had {
				changed(key)
			}
		case op < 85:
			for k, r := range m.recs { // most often a key in progress
				if r.Status == idemtype.StatusInProgress && rng.IntN(4) > 0 {
					key = k
					break
				}
			}
			what = fmt.Sprintf("Watch(%q)", key)
			ch, stop, err := s.Watch(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			watchers = append(watchers, watcher{key, ch, stop})
		case op < 90:
			what = "stop watchers"
			for _, w := range watchers[:len(watchers)/2] {
				w.stop()
			}
			watchers = append(watchers[:0], watchers[len(watchers)/2:]...)
		case op < 97:
			d := durs[1+rng.IntN(4)]
			if (step/1000)%3 == 0 {
				d = time.Minute
			}
			what = fmt.Sprintf("Advance(%v)", d)
			clk.Advance(d)
		case op < 99:
			what = "Sweep"
			if _, err := s.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
		default:
			if (step/1000)%3 == 2 && rng.IntN(10) == 0 {
				what = "Clear"
				s.Clear()
				for k := range m.recs {
					changed(k)
				}
				clear(m.recs)
			}
		}
		// Woken watchers are done with.
		kept := watchers[:0]
		for _, w := range watchers {
			select {
			case <-w.ch:
				w.stop()
			default:
				kept = append(kept, w)
			}
		}
		watchers = kept
		checkModel(t, step, what, s, m, keys, clk.Now())
	}
	for _, w := range watchers {
		w.stop()
	}
}

func checkModel(t *testing.T, step int, what string, s *memstore.Store, m *model, keys []string, now time.Time) {
	t.Helper()
	records, bytes, rr, rb := memstore.Usage(s)
	if records != rr || bytes != rb {
		t.Fatalf("step %d, after %s: the store counts %d records, %d bytes; its records add up to %d, %d", step, what, records, bytes, rr, rb)
	}
	if step%50 != 0 {
		return
	}
	// Every expired record is swept: none hides from the expiry heap.
	// (Before the reads below, which drop the expired records they meet.)
	ctx := context.Background()
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	n, _ := m.usage(now)
	if l := s.Len(); l != n {
		t.Fatalf("step %d, after %s: %d records after a sweep, the model has %d live", step, what, l, n)
	}
	for _, k := range keys {
		want := m.live(k, now)
		got, err := s.Get(ctx, k)
		switch {
		case want == nil && !errors.Is(err, idemtype.ErrNotFound):
			t.Fatalf("step %d, after %s: Get(%q) = %+v, %v; the model has none", step, what, k, got, err)
		case want != nil && (err != nil || !sameRecord(got, *want)):
			t.Fatalf("step %d, after %s: Get(%q) =\n%+v, %v; model\n%+v", step, what, k, got, err, *want)
		}
	}
}
