package idemotel

import (
	"context"
	"fmt"

	"github.com/idempotency-go/idempotency"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/idempotency-go/idempotency/idemotel"

// Attribute keys.
const (
	OutcomeKey   = attribute.Key("idempotency.outcome")
	NameKey      = attribute.Key("idempotency.name")
	OperationKey = attribute.Key("idempotency.operation")
	TokenKey     = attribute.Key("idempotency.token")
)

// Options configures an [Observer]. The zero value uses the global providers.
type Options struct {
	// MeterProvider makes the meter for the metrics. Default: otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// TracerProvider makes the tracer for the spans. Default: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
}

// Observer is an [idempotency.CallObserver] that records metrics and spans.
// It is safe for concurrent use; make one per process and share it between
// guards.
type Observer struct {
	tracer    trace.Tracer
	calls     metric.Int64Counter
	callTime  metric.Float64Histogram
	storeTime metric.Float64Histogram
}

var _ idempotency.CallObserver = (*Observer)(nil)

// NewObserver returns an Observer over the providers of opts. It fails only
// when an instrument cannot be created.
func NewObserver(opts Options) (*Observer, error) {
	mp, tp := opts.MeterProvider, opts.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	m := mp.Meter(ScopeName)
	o := &Observer{tracer: tp.Tracer(ScopeName)}
	var err error
	if o.calls, err = m.Int64Counter("idempotency.calls",
		metric.WithUnit("{call}"),
		metric.WithDescription("Guarded calls, by how they ended.")); err != nil {
		return nil, fmt.Errorf("idempotency: idemotel: %w", err)
	}
	if o.callTime, err = m.Float64Histogram("idempotency.call.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of guarded calls, by how they ended.")); err != nil {
		return nil, fmt.Errorf("idempotency: idemotel: %w", err)
	}
	if o.storeTime, err = m.Float64Histogram("idempotency.store.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of store operations, by operation.")); err != nil {
		return nil, fmt.Errorf("idempotency: idemotel: %w", err)
	}
	return o, nil
}

// Start opens the call's span, a child of the caller's.
func (o *Observer) Start(ctx context.Context, e idempotency.Event) context.Context {
	ctx, _ = o.tracer.Start(ctx, "idempotency.call",
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(NameKey.String(e.Name)))
	return ctx
}

// Observe records e: at the end of a call its count, duration and span; for
// a store operation its duration; anything else as an event of the span.
func (o *Observer) Observe(ctx context.Context, e idempotency.Event) {
	switch e.Kind {
	case idempotency.EventEnd:
		attrs := metric.WithAttributeSet(attribute.NewSet(OutcomeKey.String(string(e.Result)), NameKey.String(e.Name)))
		o.calls.Add(ctx, 1, attrs)
		o.callTime.Record(ctx, e.Took.Seconds(), attrs)
		span := trace.SpanFromContext(ctx)
		span.SetAttributes(OutcomeKey.String(string(e.Result)))
		if e.Token != 0 {
			span.SetAttributes(TokenKey.Int64(int64(e.Token)))
		}
		if e.Err != nil {
			span.RecordError(e.Err)
			if failure(e.Result) {
				span.SetStatus(codes.Error, e.Err.Error())
			}
		}
		span.End()
	case idempotency.EventStore:
		o.storeTime.Record(ctx, e.Took.Seconds(), metric.WithAttributeSet(attribute.NewSet(OperationKey.String(e.Op), NameKey.String(e.Name))))
	case idempotency.EventStart:
	default:
		span := trace.SpanFromContext(ctx)
		if !span.IsRecording() {
			return
		}
		opts := []trace.EventOption{trace.WithAttributes(TokenKey.Int64(int64(e.Token)))}
		if e.Err != nil {
			opts = append(opts, trace.WithAttributes(attribute.String("error", e.Err.Error())))
		}
		span.AddEvent(e.Kind.String(), opts...)
	}
}

// failure reports whether a call that ended so is an error of the guard or
// of fn, as opposed to a duplicate the guard answered as designed.
func failure(r idempotency.Result) bool {
	switch r {
	case idempotency.ResultExecuted, idempotency.ResultTakeover, idempotency.ResultLeaseLost,
		idempotency.ResultStoreError, idempotency.ResultInvalidKey:
		return true
	}
	return false
}
