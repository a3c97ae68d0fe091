package idemotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemotel"
	"github.com/idempotency-go/idempotency/internal/teststore"
	"github.com/idempotency-go/idempotency/memstore"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

type harness struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	obs    *idemotel.Observer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	obs, err := idemotel.NewObserver(idemotel.Options{
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader)),
		TracerProvider: h.tp,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.obs = obs
	return h
}

func (h *harness) metrics(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != idemotel.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, idemotel.ScopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

var errDeclined = errors.New("declined")

// TestOutcomes makes one call of each outcome and checks the counter, the
// duration histogram and the span of each.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	store := memstore.New(nil)
	t.Cleanup(func() { _ = store.Close() })
	g := idempotency.New(store, &idempotency.Config{Observer: h.obs, OnFailure: idempotency.Remember})
	ok := func(context.Context) (int, error) { return 7, nil }

	want := map[idempotency.Result]int{}
	call := func(r idempotency.Result, g *idempotency.Guard, key string, fn func(context.Context) (int, error), opts ...idempotency.CallOption) error {
		t.Helper()
		want[r]++
		_, err := idempotency.Do(ctx, g, key, fn, opts...)
		return err
	}

	if err := call(idempotency.ResultExecuted, g, "pay:1", ok); err != nil {
		t.Fatal(err)
	}
	if err := call(idempotency.ResultReplayed, g, "pay:1", ok); err != nil {
		t.Fatal(err)
	}
	if err := call(idempotency.ResultKeyReused, g, "pay:1", ok, idempotency.WithFingerprint("other")); !errors.Is(err, idempotency.ErrKeyReused) {
		t.Fatalf("reuse: %v", err)
	}
	if err := call(idempotency.ResultInvalidKey, g, "", ok); !errors.Is(err, idempotency.ErrInvalidKey) {
		t.Fatalf("empty key: %v", err)
	}
	decline := func(context.Context) (int, error) { return 0, errDeclined }
	if err := call(idempotency.ResultExecuted, g, "pay:2", decline); !errors.Is(err, errDeclined) {
		t.Fatalf("declined: %v", err)
	}
	if err := call(idempotency.ResultFailed, g, "pay:2", decline); !errors.Is(err, idempotency.ErrFailed) {
		t.Fatalf("remembered: %v", err)
	}
	// In progress, not waited for: a conflict.
	held, err := store.Claim(ctx, idempotency.ClaimRequest{Key: "pay:3", Lease: time.Hour, TTL: time.Hour})
	if err != nil || !held.Acquired {
		t.Fatalf("claim: %+v %v", held, err)
	}
	if err := call(idempotency.ResultConflict, g, "pay:3", ok, idempotency.WithWaitTimeout(-1)); !errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("in progress: %v", err)
	}
	// A claim whose lease lapsed is taken over.
	lapsed, err := store.Claim(ctx, idempotency.ClaimRequest{Key: "pay:4", Lease: time.Millisecond, TTL: time.Hour})
	if err != nil || !lapsed.Acquired {
		t.Fatalf("claim: %+v %v", lapsed, err)
	}
	for !time.Now().After(lapsed.Record.LeaseUntil.Add(time.Millisecond)) {
		time.Sleep(time.Millisecond)
	}
	if err := call(idempotency.ResultTakeover, g, "pay:4", ok); err != nil {
		t.Fatalf("takeover: %v", err)
	}
	// The record is forgotten while fn runs: its outcome cannot be kept.
	forget := func(ctx context.Context) (int, error) { return 1, g.Forget(ctx, "pay:5") }
	if err := call(idempotency.ResultLeaseLost, g, "pay:5", forget); !errors.Is(err, idempotency.ErrLeaseLost) {
		t.Fatalf("lease lost: %v", err)
	}
	down := idempotency.New(teststore.Down(store), &idempotency.Config{Observer: h.obs, Logger: discard()})
	if err := call(idempotency.ResultStoreError, down, "pay:6", ok); !errors.Is(err, idempotency.ErrStore) {
		t.Fatalf("store down: %v", err)
	}

	m := h.metrics(t)
	calls, ok2 := m["idempotency.calls"].(metricdata.Sum[int64])
	if !ok2 || !calls.IsMonotonic {
		t.Fatalf("idempotency.calls: %#v", m["idempotency.calls"])
	}
	got := map[idempotency.Result]int{}
	for _, dp := range calls.DataPoints {
		r, _ := dp.Attributes.Value(idemotel.OutcomeKey)
		name, _ := dp.Attributes.Value(idemotel.NameKey)
		if r.AsString() != string(idempotency.ResultInvalidKey) && name.AsString() != "pay" {
			t.Errorf("outcome %s: name %q, want pay", r.AsString(), name.AsString())
		}
		got[idempotency.Result(r.AsString())] += int(dp.Value)
	}
	if len(got) != len(want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	for r, n := range want {
		if got[r] != n {
			t.Errorf("outcome %s counted %d, want %d", r, got[r], n)
		}
	}
	durations, _ := m["idempotency.call.duration"].(metricdata.Histogram[float64])
	var timed uint64
	for _, dp := range durations.DataPoints {
		timed += dp.Count
	}
	if total := uint64(len(h.spans.Ended())); timed != total || total != 10 {
		t.Errorf("%d durations, %d spans; want 10 each", timed, total)
	}
	ops := map[string]uint64{}
	store2, _ := m["idempotency.store.duration"].(metricdata.Histogram[float64])
	for _, dp := range store2.DataPoints {
		op, _ := dp.Attributes.Value(idemotel.OperationKey)
		ops[op.AsString()] += dp.Count
	}
	// Claims: every call but the invalid key (the failed one too);
	// completions: pay:1, pay:2 (remembered), pay:4 and the refused pay:5;
	// the Forget inside fn.
	if ops["claim"] != 9 || ops["complete"] != 4 || ops["delete"] != 1 || len(ops) != 3 {
		t.Errorf("store operations %v, want 9 claims, 4 completions, 1 delete", ops)
	}
	for _, s := range h.spans.Ended() {
		if s.Name() != "idempotency.call" {
			t.Errorf("span %q", s.Name())
		}
		if !hasAttr(s.Attributes(), idemotel.OutcomeKey) {
			t.Errorf("span without outcome: %v", s.Attributes())
		}
	}
}

// TestSpanParents checks that a call's span is a child of the caller's and
// the parent of fn's spans, and that takeovers show as span events.
func TestSpanParents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	g := idempotency.New(nil, &idempotency.Config{Observer: h.obs})
	t.Cleanup(func() { _ = g.Close() })
	tr := h.tp.Tracer("test")
	ctx, parent := tr.Start(context.Background(), "request")
	var inner trace.SpanContext
	_, err := idempotency.Do(ctx, g, "mail:1", func(ctx context.Context) (int, error) {
		_, s := tr.Start(ctx, "send")
		inner = s.SpanContext()
		s.End()
		return 1, nil
	})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range h.spans.Ended() {
		spans[s.Name()] = s
	}
	call, send := spans["idempotency.call"], spans["send"]
	if call == nil || send == nil {
		t.Fatalf("spans %v", spans)
	}
	if call.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("call span's parent %v, want the request span", call.Parent().SpanID())
	}
	if send.Parent().SpanID() != call.SpanContext().SpanID() || !send.SpanContext().Equal(inner) {
		t.Errorf("fn's span's parent %v, want the call span %v", send.Parent().SpanID(), call.SpanContext().SpanID())
	}
	if !hasAttr(call.Attributes(), idemotel.TokenKey) {
		t.Errorf("call span without token: %v", call.Attributes())
	}
}

func hasAttr(attrs []attribute.KeyValue, k attribute.Key) bool {
	for _, a := range attrs {
		if a.Key == k {
			return true
		}
	}
	return false
}
