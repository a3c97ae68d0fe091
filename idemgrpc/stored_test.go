package idemgrpc_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemgrpc"
)

// TestUnreadableRecords writes records by hand, as a store shared with an
// older or broken release might hold them: the call gets codes.Internal
// and the handler does not run for a key that was already processed.
func TestUnreadableRecords(t *testing.T) {
	t.Parallel()
	missing, err := proto.Marshal(&anypb.Any{TypeUrl: "type.googleapis.com/nope.Missing", Value: []byte{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"not JSON":            []byte("\x00garbage"),
		"empty object":        []byte(`{}`),
		"unregistered type":   mustJSON(t, map[string][]byte{"response": missing}),
		"response not an Any": mustJSON(t, map[string][]byte{"response": {0xff, 0xff}}),
		"status with code OK": mustJSON(t, map[string][]byte{"status": {}}),
		"status not a Status": mustJSON(t, map[string][]byte{"status": {0xff}}),
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int64
			e := newEnv(t, charge(&runs), nil)
			req := newStruct(t, map[string]any{"amount": 1})
			// Run the call once for its fingerprint, then replace the
			// record with one holding the value by hand.
			if r := e.call(methodCharge, "k", req); r.err != nil {
				t.Fatal(r.err)
			}
			key := e.recordKey(methodCharge, "k")
			rec, err := e.store.Get(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.store.Delete(context.Background(), key); err != nil {
				t.Fatal(err)
			}
			c, err := e.store.Claim(context.Background(), idempotency.ClaimRequest{Key: key, Fingerprint: rec.Fingerprint, Lease: time.Minute, TTL: time.Hour})
			if err != nil || !c.Acquired {
				t.Fatalf("claim: %v %+v", err, c)
			}
			if err := e.store.Complete(context.Background(), key, c.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: value, TTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
			r := e.call(methodCharge, "k", req)
			wantCode(t, r, codes.Internal)
			if n := runs.Load(); n != 1 {
				t.Fatalf("handler ran %d times, want 1", n)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNotProtoMessages calls the interceptor directly with values a
// custom codec could produce: a request that is not a protocol buffer is
// refused before the handler, and a response that is not one is returned
// once and never run again.
func TestNotProtoMessages(t *testing.T) {
	t.Parallel()
	g := idempotency.New(nil, nil)
	defer g.Close()
	icpt := idemgrpc.UnaryServerInterceptor(g, nil)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(idemgrpc.MetadataKey, "k", "authorization", "Bearer client-a"))
	info := &grpc.UnaryServerInfo{FullMethod: methodCharge}
	var runs atomic.Int64
	h := func(ctx context.Context, req any) (any, error) { runs.Add(1); return "a string", nil }

	if _, err := icpt(ctx, "not a message", info, h); status.Code(err) != codes.Internal || runs.Load() != 0 {
		t.Fatalf("request not a message: %v, %d runs; want Internal and no run", err, runs.Load())
	}
	req := &structpb.Struct{}
	resp, err := icpt(ctx, req, info, h)
	if err != nil || resp != "a string" {
		t.Fatalf("first call: %v, %v", resp, err)
	}
	if _, err := icpt(ctx, req, info, h); status.Code(err) != codes.Internal || runs.Load() != 1 {
		t.Fatalf("duplicate: %v, %d runs; want Internal and one run", err, runs.Load())
	}
}

// TestWait: with Config.Wait a duplicate waits for the running first
// call; past Wait it gets codes.Aborted.
func TestWait(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	g := newGate()
	e := newEnv(t, func(ctx context.Context, method string, req *structpb.Struct) (*structpb.Struct, error) {
		if err := g.wait(ctx); err != nil {
			return nil, err
		}
		return charge(&runs)(ctx, method, req)
	}, &envOptions{cfg: &idemgrpc.Config{Wait: 50 * time.Millisecond}})
	req := newStruct(t, map[string]any{"amount": 1})
	first := make(chan reply, 1)
	go func() { first <- e.call(methodCharge, "k", req) }()
	waitFor(t, g.entered, "the handler to start")
	start := time.Now()
	wantCode(t, e.call(methodCharge, "k", req), codes.Aborted)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("duplicate refused after %v, before Config.Wait", d)
	}
	close(g.open)
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

// TestTTL: Config.TTL sets the record's lifetime.
func TestTTL(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	e := newEnv(t, charge(&runs), &envOptions{cfg: &idemgrpc.Config{TTL: time.Hour}})
	if r := e.call(methodCharge, "k", newStruct(t, map[string]any{"amount": 1})); r.err != nil {
		t.Fatal(r.err)
	}
	rec, err := e.guard.Lookup(context.Background(), e.recordKey(methodCharge, "k"))
	if err != nil {
		t.Fatal(err)
	}
	if d := rec.ExpiresAt.Sub(rec.UpdatedAt); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("record lives %v, want 1h", d)
	}
}

// TestPanicReleases: a handler that panics releases the key (the panic
// goes on, to a recovery interceptor), so that a retry runs it again.
func TestPanicReleases(t *testing.T) {
	t.Parallel()
	g := idempotency.New(nil, nil)
	defer g.Close()
	icpt := idemgrpc.UnaryServerInterceptor(g, nil)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(idemgrpc.MetadataKey, "k", "authorization", "Bearer client-a"))
	info := &grpc.UnaryServerInfo{FullMethod: methodCharge}
	req := &structpb.Struct{}
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("recovered %v, want the handler's panic", p)
			}
		}()
		_, _ = icpt(ctx, req, info, func(context.Context, any) (any, error) { panic("boom") })
	}()
	var runs atomic.Int64
	resp, err := icpt(ctx, req, info, func(context.Context, any) (any, error) { runs.Add(1); return req, nil })
	if err != nil || resp != req || runs.Load() != 1 {
		t.Fatalf("after the panic: %v, %v, %d runs; want the handler run", resp, err, runs.Load())
	}
}
