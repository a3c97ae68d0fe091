package idemotel_test

import (
	"context"
	"fmt"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemotel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Wire the observer into a guard, then read idempotency.calls: one first
// call and one replay.
func ExampleNewObserver() {
	reader := sdkmetric.NewManualReader()
	obs, err := idemotel.NewObserver(idemotel.Options{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		panic(err)
	}
	g := idempotency.New(nil, &idempotency.Config{Observer: obs})
	defer g.Close()

	ctx := context.Background()
	charge := func(context.Context) (string, error) { return "ch_1", nil }
	for range 2 {
		if _, err := idempotency.Do(ctx, g, "charge:inv-42", charge); err != nil {
			panic(err)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "idempotency.calls" {
			for _, outcome := range []string{"executed", "replayed"} {
				for _, dp := range sum.DataPoints {
					if v, _ := dp.Attributes.Value(idemotel.OutcomeKey); v.AsString() == outcome {
						name, _ := dp.Attributes.Value(idemotel.NameKey)
						fmt.Printf("%s{outcome=%s, name=%s} %d\n", m.Name, outcome, name.AsString(), dp.Value)
					}
				}
			}
		}
	}
	// Output:
	// idempotency.calls{outcome=executed, name=charge} 1
	// idempotency.calls{outcome=replayed, name=charge} 1
}
