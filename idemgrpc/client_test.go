package idemgrpc_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/idempotency-go/idempotency/idemgrpc"
)

// retryPolicy retries Ledger calls on UNAVAILABLE, as a client of a
// flaky network would.
const retryPolicy = `{"methodConfig": [{
	"name": [{"service": "` + serviceName + `"}],
	"retryPolicy": {
		"maxAttempts": 4,
		"initialBackoff": "0.01s",
		"maxBackoff": "0.05s",
		"backoffMultiplier": 2,
		"retryableStatusCodes": ["UNAVAILABLE"]
	}
}]}`

// lossy is a server interceptor that records every attempt's key and
// loses the response of the first attempt of each call after the handler
// has run: the case a retry must not turn into a second effect.
type lossy struct {
	mu   sync.Mutex
	keys []string // the key of each attempt, in order
	seen map[string]bool
}

func (l *lossy) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	key := ""
	if v := metadata.ValueFromIncomingContext(ctx, idemgrpc.MetadataKey); len(v) == 1 {
		key = v[0]
	}
	l.mu.Lock()
	l.keys = append(l.keys, key)
	first := !l.seen[req.(*structpb.Struct).Fields["call"].GetStringValue()]
	l.seen[req.(*structpb.Struct).Fields["call"].GetStringValue()] = true
	l.mu.Unlock()
	resp, err := h(ctx, req)
	if first {
		return nil, status.Error(codes.Unavailable, "connection reset after the handler ran")
	}
	return resp, err
}

func (l *lossy) attempts() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.keys...)
}

func TestClientKeySurvivesRetryPolicy(t *testing.T) {
	t.Parallel()
	for _, withClient := range []bool{true, false} {
		name := map[bool]string{true: "client interceptor", false: "no client interceptor"}[withClient]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int64
			l := &lossy{seen: map[string]bool{}}
			dial := []grpc.DialOption{grpc.WithDefaultServiceConfig(retryPolicy)}
			if withClient {
				dial = append(dial, grpc.WithUnaryInterceptor(idemgrpc.UnaryClientInterceptor(nil)))
			}
			e := newEnv(t, charge(&runs), &envOptions{outer: l.intercept, dial: dial})

			r := e.call(methodCharge, "", newStruct(t, map[string]any{"call": "one", "amount": 5}))
			keys := l.attempts()
			if len(keys) != 2 {
				t.Fatalf("%d attempts (keys %q), want 2: the retry policy did not retry", len(keys), keys)
			}
			if !withClient {
				// The control: without a key every attempt runs the
				// handler, and the lost response costs a second charge.
				if r.err != nil || runs.Load() != 2 {
					t.Fatalf("err %v, runs %d; want 2 runs without keys", r.err, runs.Load())
				}
				return
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			if keys[0] == "" || keys[0] != keys[1] {
				t.Fatalf("attempt keys %q, want one non-empty key for both", keys)
			}
			if !r.replayed() || r.resp.Fields["charge"].GetNumberValue() != 1 {
				t.Fatalf("replayed %v, response %v; want the first attempt's response replayed", r.replayed(), r.resp)
			}
			if n := runs.Load(); n != 1 {
				t.Fatalf("handler ran %d times across the retry, want 1", n)
			}

			// Another logical call gets another key.
			if r := e.call(methodCharge, "", newStruct(t, map[string]any{"call": "two", "amount": 5})); r.err != nil {
				t.Fatal(r.err)
			}
			keys = l.attempts()
			if len(keys) != 4 || keys[2] != keys[3] || keys[2] == keys[0] {
				t.Fatalf("attempt keys %q, want a new key shared by the second call's two attempts", keys)
			}
			if n := runs.Load(); n != 2 {
				t.Fatalf("handler ran %d times for two calls, want 2", n)
			}
		})
	}
}

func TestClientInterceptorKeys(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		mu.Lock()
		got = append(got, metadata.ValueFromIncomingContext(ctx, idemgrpc.MetadataKey)...)
		mu.Unlock()
		return h(ctx, req)
	}
	var runs atomic.Int64
	n := 0
	e := newEnv(t, charge(&runs), &envOptions{outer: record, dial: []grpc.DialOption{
		grpc.WithUnaryInterceptor(idemgrpc.UnaryClientInterceptor(&idemgrpc.ClientConfig{
			Methods: []string{methodCharge},
			NewKey:  func() string { n++; return "gen-" + string(rune('0'+n)) },
		})),
	}})
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", clientA), 20*time.Second)
	defer cancel()
	req := newStruct(t, map[string]any{"amount": 1})
	invoke := func(ctx context.Context, method string) {
		t.Helper()
		if err := e.conn.Invoke(ctx, method, req, new(structpb.Struct)); err != nil {
			t.Fatal(err)
		}
	}
	invoke(ctx, methodCharge)                                                                // generated
	invoke(idemgrpc.WithKey(ctx, "order-7"), methodCharge)                                   // the caller's
	invoke(idemgrpc.WithKey(idemgrpc.WithKey(ctx, "old"), "order-8"), methodCharge)          // replaced, not doubled
	invoke(metadata.AppendToOutgoingContext(ctx, idemgrpc.MetadataKey, "raw"), methodCharge) // set by hand
	invoke(ctx, methodRefund)                                                                // not listed: none
	want := []string{"gen-1", "order-7", "order-8", "raw"}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("server saw keys %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("server saw keys %q, want %q", got, want)
		}
	}
}

func TestNewKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		k := idemgrpc.NewKey()
		if len(k) != 22 || seen[k] {
			t.Fatalf("NewKey() = %q: want 22 characters, never repeated", k)
		}
		seen[k] = true
	}
}
