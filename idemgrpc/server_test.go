package idemgrpc_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemgrpc"
	"github.com/idempotency-go/idempotency/internal/teststore"
)

// charge is a handler with a counted effect: it answers with the request
// and a charge number.
func charge(runs *atomic.Int64) handlerFunc {
	return func(ctx context.Context, method string, req *structpb.Struct) (*structpb.Struct, error) {
		n := runs.Add(1)
		resp := proto.Clone(req).(*structpb.Struct)
		resp.Fields["charge"] = structpb.NewNumberValue(float64(n))
		resp.Fields["method"] = structpb.NewStringValue(method)
		return resp, nil
	}
}

func wantCode(t *testing.T, r reply, code codes.Code) {
	t.Helper()
	if got := status.Code(r.err); got != code {
		t.Fatalf("call: %v, want code %v", r.err, code)
	}
}

func TestConcurrentDuplicatesRunOnce(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	g := newGate()
	arrived := make(chan struct{}, 50)
	e := newEnv(t, func(ctx context.Context, method string, req *structpb.Struct) (*structpb.Struct, error) {
		if err := g.wait(ctx); err != nil {
			return nil, err
		}
		return charge(&runs)(ctx, method, req)
	}, &envOptions{
		cfg: &idemgrpc.Config{Wait: 20 * time.Second},
		outer: func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			arrived <- struct{}{}
			return h(ctx, req)
		},
	})
	req := newStruct(t, map[string]any{"amount": 42, "currency": "EUR"})
	replies := make([]reply, 50)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() { replies[i] = e.call(methodCharge, "k1", req) })
	}
	// Hold the first call until every duplicate has reached the server.
	for range 50 {
		waitFor(t, arrived, "50 calls to arrive")
	}
	waitFor(t, g.entered, "the handler to start")
	close(g.open)
	wg.Wait()

	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	replayed := 0
	for i, r := range replies {
		if r.err != nil {
			t.Fatalf("call %d: %v", i, r.err)
		}
		if !proto.Equal(r.resp, replies[0].resp) {
			t.Fatalf("call %d got %v, call 0 got %v", i, r.resp, replies[0].resp)
		}
		if r.replayed() {
			replayed++
		}
	}
	if replayed != 49 {
		t.Fatalf("%d replies marked replayed, want 49", replayed)
	}
	if got := replies[0].resp.Fields["charge"].GetNumberValue(); got != 1 {
		t.Fatalf("charge %v, want 1", got)
	}
}

func TestReplayIsEqual(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	e := newEnv(t, charge(&runs), nil)
	req := newStruct(t, map[string]any{
		"amount": 12.5, "note": "ünïcødé", "tags": []any{"a", nil, true, 3.0},
		"nested": map[string]any{"x": map[string]any{"y": []any{}}},
	})
	first := e.call(methodCharge, "k", req)
	if first.err != nil {
		t.Fatal(first.err)
	}
	if first.replayed() {
		t.Fatal("the first response is marked replayed")
	}
	for i := range 3 {
		r := e.call(methodCharge, "k", req)
		if r.err != nil {
			t.Fatalf("duplicate %d: %v", i, r.err)
		}
		if !proto.Equal(r.resp, first.resp) {
			t.Fatalf("duplicate %d got %v, want %v", i, r.resp, first.resp)
		}
		if !r.replayed() {
			t.Fatalf("duplicate %d: header %v, want %s: true", i, r.header, idemgrpc.ReplayedKey)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

func TestKeyIdentity(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	e := newEnv(t, charge(&runs), &envOptions{cfg: &idemgrpc.Config{
		Scope: func(ctx context.Context) string {
			md, _ := metadata.FromIncomingContext(ctx)
			return strings.Join(md.Get("authorization"), ",")
		},
	}})
	a := newStruct(t, map[string]any{"amount": 1, "currency": "EUR", "meta": map[string]any{"p": 1, "q": 2, "r": 3}})
	if r := e.call(methodCharge, "k", a); r.err != nil {
		t.Fatal(r.err)
	}

	t.Run("another request", func(t *testing.T) {
		r := e.call(methodCharge, "k", newStruct(t, map[string]any{"amount": 2, "currency": "EUR"}))
		wantCode(t, r, codes.InvalidArgument)
		if !strings.HasPrefix(status.Convert(r.err).Message(), "idempotency: ") {
			t.Fatalf("message %q", status.Convert(r.err).Message())
		}
	})
	t.Run("an equal request built in another order", func(t *testing.T) {
		// Struct fields are a map: only deterministic marshalling gives
		// equal requests one fingerprint.
		b := &structpb.Struct{Fields: map[string]*structpb.Value{}}
		for _, k := range []string{"meta", "currency", "amount"} {
			b.Fields[k] = a.Fields[k]
		}
		r := e.call(methodCharge, "k", b)
		if r.err != nil || !r.replayed() {
			t.Fatalf("err %v, replayed %v; want a replay", r.err, r.replayed())
		}
	})
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}

	t.Run("another method", func(t *testing.T) {
		r := e.call(methodRefund, "k", a)
		if r.err != nil || r.replayed() || r.resp.Fields["method"].GetStringValue() != methodRefund {
			t.Fatalf("err %v, replayed %v, resp %v; want a first call to Refund", r.err, r.replayed(), r.resp)
		}
	})
	t.Run("another scope", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(),
			idemgrpc.MetadataKey, "k", "authorization", "Bearer client-b"), 20*time.Second)
		defer cancel()
		var hdr metadata.MD
		resp := new(structpb.Struct)
		if err := e.conn.Invoke(ctx, methodCharge, a, resp, grpc.Header(&hdr)); err != nil {
			t.Fatal(err)
		}
		if len(hdr.Get(idemgrpc.ReplayedKey)) != 0 {
			t.Fatal("another client's call was replayed")
		}
	})
	if n := runs.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want 3", n)
	}
	if _, err := e.guard.Lookup(context.Background(), idemgrpc.RecordKey("", "Bearer client-b", methodCharge, "k")); err != nil {
		t.Fatalf("Lookup(RecordKey(...)): %v", err)
	}
}

func TestAbortedWhileRunning(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	g := newGate()
	e := newEnv(t, func(ctx context.Context, method string, req *structpb.Struct) (*structpb.Struct, error) {
		if err := g.wait(ctx); err != nil {
			return nil, err
		}
		return charge(&runs)(ctx, method, req)
	}, nil)
	req := newStruct(t, map[string]any{"amount": 1})
	first := make(chan reply, 1)
	go func() { first <- e.call(methodCharge, "k", req) }()
	waitFor(t, g.entered, "the handler to start")
	for range 5 {
		r := e.call(methodCharge, "k", req)
		wantCode(t, r, codes.Aborted)
	}
	close(g.open)
	var r reply
	select {
	case r = <-first:
	case <-time.After(20 * time.Second):
		t.Fatal("timed out after 20s waiting for the first call")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if d := e.call(methodCharge, "k", req); d.err != nil || !d.replayed() || !proto.Equal(d.resp, r.resp) {
		t.Fatalf("after the first call: %v (replayed %v), want its response replayed", d.err, d.replayed())
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

func TestHandlerErrors(t *testing.T) {
	t.Parallel()
	type tc struct {
		name    string
		release []codes.Code // Config.ReleaseCodes
		err     error        // the handler's error
		stored  bool         // replayed rather than run again
	}
	var cases []tc
	for _, c := range idemgrpc.DefaultReleaseCodes {
		cases = append(cases, tc{name: "release " + c.String(), err: status.Error(c, "transient"), stored: false})
	}
	for _, c := range []codes.Code{codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.FailedPrecondition, codes.Aborted, codes.OutOfRange, codes.Unimplemented, codes.DataLoss, codes.Unauthenticated} {
		cases = append(cases, tc{name: "store " + c.String(), err: status.Error(c, "final"), stored: true})
	}
	cases = append(cases,
		tc{name: "plain error counts as Unknown", err: fmt.Errorf("plain"), stored: false},
		tc{name: "wrapped status", err: fmt.Errorf("wrapped: %w", status.Error(codes.NotFound, "no such account")), stored: true},
		tc{name: "empty ReleaseCodes stores Unavailable", release: []codes.Code{}, err: status.Error(codes.Unavailable, "x"), stored: true},
		tc{name: "custom ReleaseCodes releases NotFound", release: []codes.Code{codes.NotFound}, err: status.Error(codes.NotFound, "x"), stored: false},
		tc{name: "custom ReleaseCodes stores Internal", release: []codes.Code{codes.NotFound}, err: status.Error(codes.Internal, "x"), stored: true},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int64
			e := newEnv(t, func(ctx context.Context, method string, req *structpb.Struct) (*structpb.Struct, error) {
				runs.Add(1)
				return nil, c.err
			}, &envOptions{cfg: &idemgrpc.Config{ReleaseCodes: c.release}})
			req := newStruct(t, map[string]any{"amount": 1})
			first := e.call(methodCharge, "k", req)
			want := status.Convert(c.err)
			if got := status.Convert(first.err); got.Code() != want.Code() || got.Message() != want.Message() {
				t.Fatalf("first call: %v, want %v", first.err, c.err)
			}
			second := e.call(methodCharge, "k", req)
			wantRuns := int64(2)
			if c.stored {
				wantRuns = 1
				got := status.Convert(second.err)
				if got.Code() != want.Code() || got.Message() != want.Message() || !second.replayed() {
					t.Fatalf("duplicate: %v (replayed %v), want %v replayed", second.err, second.replayed(), c.err)
				}
			} else if second.replayed() {
				t.Fatal("duplicate after a released failure was replayed")
			}
			if n := runs.Load(); n != wantRuns {
				t.Fatalf("handler ran %d times, want %d", n, wantRuns)
			}
		})
	}
}

func TestStoredErrorKeepsDetails(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	st, err := status.New(codes.FailedPrecondition, "card declined").WithDetails(
		&errdetails.ErrorInfo{Reason: "CARD_DECLINED", Domain: "payments.example", Metadata: map[string]string{"card": "visa-4242"}},
		&errdetails.RetryInfo{},
	)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(context.Context, string, *structpb.Struct) (*structpb.Struct, error) {
		runs.Add(1)
		return nil, st.Err()
	}, nil)
	req := newStruct(t, map[string]any{"amount": 1})
	_ = e.call(methodCharge, "k", req)
	r := e.call(methodCharge, "k", req)
	if !r.replayed() || runs.Load() != 1 {
		t.Fatalf("replayed %v, runs %d; want a replay after one run", r.replayed(), runs.Load())
	}
	if got := status.Convert(r.err).Proto(); !proto.Equal(got, st.Proto()) {
		t.Fatalf("replayed status %v, want %v", got, st.Proto())
	}
	if info, ok := status.Convert(r.err).Details()[0].(*errdetails.ErrorInfo); !ok || info.Reason != "CARD_DECLINED" {
		t.Fatalf("details %v", status.Convert(r.err).Details())
	}
}

// TestStoreDownFailsClosed: with the store down, a keyed call gets
// codes.Unavailable and does not run, whether the scope's secret is in
// the store (the default) or given (the claim is what fails).
func TestStoreDownFailsClosed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  *idemgrpc.Config
	}{
		{"StoredSecret", nil},
		{"GivenSecret", &idemgrpc.Config{ScopeSecret: []byte("0123456789abcdef")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int64
			e := newEnv(t, charge(&runs), &envOptions{store: teststore.Down(nil), cfg: tc.cfg})
			r := e.call(methodCharge, "k", newStruct(t, map[string]any{"amount": 1}))
			wantCode(t, r, codes.Unavailable)
			if n := runs.Load(); n != 0 {
				t.Fatalf("handler ran %d times with the store down, want 0", n)
			}
			// Without a key the store is not involved.
			if r := e.call(methodCharge, "", newStruct(t, map[string]any{"amount": 1})); r.err != nil {
				t.Fatal(r.err)
			}
		})
	}
}

func TestKeyRules(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	e := newEnv(t, charge(&runs), &envOptions{cfg: &idemgrpc.Config{
		Required:     true,
		Methods:      []string{methodCharge},
		MaxKeyLength: 8,
	}})
	req := newStruct(t, map[string]any{"amount": 1})
	invoke := func(method string, kv ...string) reply {
		kv = append([]string{"authorization", clientA}, kv...)
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), kv...), 20*time.Second)
		defer cancel()
		r := reply{resp: new(structpb.Struct)}
		r.err = e.conn.Invoke(ctx, method, req, r.resp, grpc.Header(&r.header))
		return r
	}
	cases := []struct {
		name   string
		method string
		kv     []string
		code   codes.Code
		runs   int64 // handler runs the call adds
	}{
		{"missing key, Required", methodCharge, nil, codes.InvalidArgument, 0},
		{"empty key", methodCharge, []string{idemgrpc.MetadataKey, ""}, codes.InvalidArgument, 0},
		{"two keys", methodCharge, []string{idemgrpc.MetadataKey, "a", idemgrpc.MetadataKey, "b"}, codes.InvalidArgument, 0},
		{"too long", methodCharge, []string{idemgrpc.MetadataKey, "123456789"}, codes.InvalidArgument, 0},
		{"longest", methodCharge, []string{idemgrpc.MetadataKey, "12345678"}, codes.OK, 1},
		{"unguarded method, no key", methodRefund, nil, codes.OK, 1},
		{"unguarded method, a key", methodRefund, []string{idemgrpc.MetadataKey, "x"}, codes.OK, 1},
		{"unguarded method, the same key again", methodRefund, []string{idemgrpc.MetadataKey, "x"}, codes.OK, 1},
	}
	for _, c := range cases {
		before := runs.Load()
		r := invoke(c.method, c.kv...)
		if status.Code(r.err) != c.code {
			t.Errorf("%s: %v, want %v", c.name, r.err, c.code)
		}
		if got := runs.Load() - before; got != c.runs {
			t.Errorf("%s: handler ran %d times, want %d", c.name, got, c.runs)
		}
	}
}

func TestPassThroughWithoutKey(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	e := newEnv(t, charge(&runs), nil)
	req := newStruct(t, map[string]any{"amount": 1})
	for range 2 {
		if r := e.call(methodCharge, "", req); r.err != nil || r.replayed() {
			t.Fatalf("err %v, replayed %v", r.err, r.replayed())
		}
	}
	if n := runs.Load(); n != 2 {
		t.Fatalf("handler ran %d times, want 2 (no key, no guard)", n)
	}
}

func TestGuardPolicies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		guard *idempotency.Config
		err   error // the handler's error
		code  codes.Code
	}{
		{"Reject", &idempotency.Config{OnDuplicate: idempotency.Reject}, nil, codes.AlreadyExists},
		{"Remember keeps a released code final", &idempotency.Config{OnFailure: idempotency.Remember},
			status.Error(codes.Unavailable, "down"), codes.FailedPrecondition},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int64
			e := newEnv(t, func(ctx context.Context, m string, req *structpb.Struct) (*structpb.Struct, error) {
				if c.err != nil {
					runs.Add(1)
					return nil, c.err
				}
				return charge(&runs)(ctx, m, req)
			}, &envOptions{guard: c.guard})
			req := newStruct(t, map[string]any{"amount": 1})
			_ = e.call(methodCharge, "k", req)
			wantCode(t, e.call(methodCharge, "k", req), c.code)
			if n := runs.Load(); n != 1 {
				t.Fatalf("handler ran %d times, want 1", n)
			}
		})
	}
}

func TestInvalidConfigPanics(t *testing.T) {
	t.Parallel()
	g := idempotency.New(nil, nil)
	defer g.Close()
	for name, f := range map[string]func(){
		"nil guard":               func() { idemgrpc.UnaryServerInterceptor(nil, nil) },
		"MaxKeyLength 2000":       func() { idemgrpc.UnaryServerInterceptor(g, &idemgrpc.Config{MaxKeyLength: 2000}) },
		"negative TTL":            func() { idemgrpc.UnaryServerInterceptor(g, &idemgrpc.Config{TTL: -2}) },
		"OK in ReleaseCodes":      func() { idemgrpc.UnaryServerInterceptor(g, &idemgrpc.Config{ReleaseCodes: []codes.Code{codes.OK}}) },
		"short ScopeSecret":       func() { idemgrpc.UnaryServerInterceptor(g, &idemgrpc.Config{ScopeSecret: []byte("0123456789abcde")}) },
		"empty ScopeMetadata key": func() { idemgrpc.UnaryServerInterceptor(g, &idemgrpc.Config{ScopeMetadata: []string{""}}) },
		"ScopeMetadata key with a space": func() {
			idemgrpc.UnaryServerInterceptor(g, &idemgrpc.Config{ScopeMetadata: []string{"x-api key"}})
		},
	} {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.HasPrefix(fmt.Sprint(p), "idempotency: ") {
					t.Errorf("%s: panic %v, want one starting with %q", name, p, "idempotency: ")
				}
			}()
			f()
		}()
	}
}
