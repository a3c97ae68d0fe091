package idempotency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testchild"
)

type panickyResult struct{ N int }

func (panickyResult) MarshalJSON() ([]byte, error) { panic("broken MarshalJSON") }

// A result whose encoding panics is a result that cannot be encoded: fn
// ran, so it must never run again, and the caller keeps its value.
func TestResultEncodingPanics(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, &idempotency.Config{Lease: 30 * time.Millisecond})
	var runs atomic.Int32
	fn := func(context.Context) (panickyResult, error) {
		runs.Add(1)
		return panickyResult{7}, nil
	}
	var v panickyResult
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("Do panicked: %v", p)
			}
		}()
		v, err = idempotency.Do(context.Background(), g, "k", fn)
	}()
	if err != nil || v.N != 7 {
		t.Fatalf("first call = %+v, %v; want its value", v, err)
	}
	time.Sleep(100 * time.Millisecond) // past the lease
	_, err = idempotency.Do(context.Background(), g, "k", fn)
	wantErr(t, err, idempotency.ErrResultUnavailable)
	if n := runs.Load(); n != 1 {
		t.Fatalf("fn ran %d times", n)
	}
}

func TestUnencodableResult(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	g := newGuard(t, nil, nil)
	fn := func(context.Context) (any, error) {
		runs.Add(1)
		return func() {}, nil // JSON cannot encode a func
	}
	v, err := idempotency.Do(context.Background(), g, "k", fn)
	if err != nil || v == nil {
		t.Fatalf("first call = %v, %v; want its value", v, err)
	}
	_, err = idempotency.Do(context.Background(), g, "k", fn)
	wantErr(t, err, idempotency.ErrResultUnavailable)
	if runs.Load() != 1 {
		t.Fatalf("fn ran %d times", runs.Load())
	}
}

func TestUndecodableResult(t *testing.T) {
	t.Parallel()
	g := newGuard(t, nil, nil)
	if _, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (string, error) { return "text", nil }); err != nil {
		t.Fatal(err)
	}
	_, err := idempotency.Do(context.Background(), g, "k", func(context.Context) (int, error) {
		t.Error("fn ran again for a result of another type")
		return 0, nil
	})
	wantErr(t, err, idempotency.ErrResultUnavailable)
}

// countingCodec is a Codec that counts its calls, wrapping JSON with a
// marker so that a replay through another codec would fail.
type countingCodec struct {
	marshal, unmarshal atomic.Int64
}

func (c *countingCodec) Marshal(v any) ([]byte, error) {
	c.marshal.Add(1)
	b, err := json.Marshal(v)
	return append([]byte("v1:"), b...), err
}

func (c *countingCodec) Unmarshal(data []byte, v any) error {
	c.unmarshal.Add(1)
	rest, ok := bytes.CutPrefix(data, []byte("v1:"))
	if !ok {
		return errors.New("not written by countingCodec")
	}
	return json.Unmarshal(rest, v)
}

func TestCustomCodec(t *testing.T) {
	t.Parallel()
	codec := &countingCodec{}
	s := newStore(t, nil)
	g := newGuard(t, s, &idempotency.Config{Codec: codec})
	type receipt struct{ ID string }
	fn := func(context.Context) (*receipt, error) { return &receipt{ID: "ch_1"}, nil }
	if _, err := idempotency.Do(context.Background(), g, "k", fn); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(context.Background(), "k")
	if err != nil || !bytes.HasPrefix(rec.Value, []byte("v1:")) {
		t.Fatalf("stored %q, %v; want the codec's encoding", rec.Value, err)
	}
	got, err := idempotency.Do(context.Background(), g, "k", fn)
	if err != nil || got.ID != "ch_1" {
		t.Fatalf("replay = %+v, %v", got, err)
	}
	if m, u := codec.marshal.Load(), codec.unmarshal.Load(); m != 1 || u != 1 {
		t.Fatalf("codec: %d Marshal, %d Unmarshal; want 1 each", m, u)
	}
	// A record the codec cannot read is ErrResultUnavailable, not a zero value.
	_, err = idempotency.Do(context.Background(), newGuard(t, s, nil), "k", fn)
	wantErr(t, err, idempotency.ErrResultUnavailable)
}

// blob encodes itself: its bytes are stored as they are, whatever the
// guard's Codec.
type blob struct{ B []byte }

func (b blob) MarshalResult() ([]byte, error) { return append([]byte("blob:"), b.B...), nil }

func (b *blob) UnmarshalResult(data []byte) error {
	rest, ok := bytes.CutPrefix(data, []byte("blob:"))
	if !ok {
		return errors.New("not a blob")
	}
	b.B = bytes.Clone(rest)
	return nil
}

// TestResultMarshaler: a result type that encodes itself is stored as its
// own bytes, without the Codec (no base64 growth of binary data), and
// replayed through its UnmarshalResult; bytes it cannot read are
// ErrResultUnavailable, never a re-run.
func TestResultMarshaler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGuard(t, nil, nil)
	payload := bytes.Repeat([]byte{0, 0xff, '"', '\\'}, 1024)
	var runs atomic.Int64
	fn := func(context.Context) (blob, error) { runs.Add(1); return blob{payload}, nil }
	if _, err := idempotency.Do(ctx, g, "b", fn); err != nil {
		t.Fatal(err)
	}
	rec, err := g.Lookup(ctx, "b")
	if err != nil || !bytes.Equal(rec.Value, append([]byte("blob:"), payload...)) {
		t.Fatalf("stored %d bytes (%v), want the %d bytes MarshalResult made", len(rec.Value), err, len(payload)+5)
	}
	got, err := idempotency.Do(ctx, g, "b", fn)
	if err != nil || !bytes.Equal(got.B, payload) || runs.Load() != 1 {
		t.Fatalf("replay = %d bytes, %v, runs %d", len(got.B), err, runs.Load())
	}
	// A record the type cannot read back.
	s := g.Store()
	c, err := s.Claim(ctx, idempotency.ClaimRequest{Key: "c", Lease: time.Minute, TTL: time.Hour})
	if err != nil || !c.Acquired {
		t.Fatal(c, err)
	}
	if err := s.Complete(ctx, "c", c.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: []byte(`{"B":"AA=="}`), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := idempotency.Do(ctx, g, "c", fn); !errors.Is(err, idempotency.ErrResultUnavailable) || runs.Load() != 1 {
		t.Fatalf("unreadable record: %v, runs %d", err, runs.Load())
	}
}

// TestResultMarshalerByType: the result type alone decides how a record is
// written and read: a *blob or an interface holding a blob goes through the
// Codec both ways, and replays.
func TestResultMarshalerByType(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGuard(t, nil, nil)
	ptr := func(context.Context) (*blob, error) { return &blob{[]byte("p")}, nil }
	for range 2 {
		if v, err := idempotency.Do(ctx, g, "ptr", ptr); err != nil || string(v.B) != "p" {
			t.Fatalf("*blob: %v, %v", v, err)
		}
	}
	iface := func(context.Context) (any, error) { return blob{[]byte("i")}, nil }
	for range 2 {
		if _, err := idempotency.Do(ctx, g, "iface", iface); err != nil {
			t.Fatalf("any holding a blob: %v", err)
		}
	}
}

// hollow encodes itself as no bytes, which it would read back as itself.
type hollow struct{}

func (hollow) MarshalResult() ([]byte, error)     { return nil, nil }
func (*hollow) UnmarshalResult(data []byte) error { return nil }

// A MarshalResult that returns no bytes and no error has not encoded the
// result: it is recorded as completed without a value, like a value that
// cannot be encoded, with a warning that says so, and duplicates get
// ErrResultUnavailable, not a zero value read from nothing.
func TestResultMarshalerWithNoBytes(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	log := &testchild.Buffer{}
	g := newGuard(t, nil, &idempotency.Config{Logger: slog.New(slog.NewTextHandler(log, nil))})
	fn := func(context.Context) (hollow, error) { runs.Add(1); return hollow{}, nil }
	if _, err := idempotency.Do(context.Background(), g, "k", fn); err != nil {
		t.Fatalf("first call: %v; want its value", err)
	}
	if l := log.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "MarshalResult returned no bytes") {
		t.Fatalf("log = %q, want a warning that MarshalResult returned no bytes", l)
	}
	_, err := idempotency.Do(context.Background(), g, "k", fn)
	wantErr(t, err, idempotency.ErrResultUnavailable)
	if runs.Load() != 1 {
		t.Fatalf("fn ran %d times", runs.Load())
	}
}
