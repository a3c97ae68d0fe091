package idemgrpc_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemgrpc"
	"github.com/idempotency-go/idempotency/memstore"
)

// The test service, registered by hand (there is no generated code): a
// ledger whose methods take and return google.protobuf.Struct.
const (
	serviceName  = "idemgrpc.test.Ledger"
	methodCharge = "/" + serviceName + "/Charge"
	methodRefund = "/" + serviceName + "/Refund"
)

// handlerFunc serves both methods; method is the full method name.
type handlerFunc func(ctx context.Context, method string, req *structpb.Struct) (*structpb.Struct, error)

func ledgerDesc(h handlerFunc) *grpc.ServiceDesc {
	method := func(name string) grpc.MethodDesc {
		full := "/" + serviceName + "/" + name
		return grpc.MethodDesc{
			MethodName: name,
			Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
				in := new(structpb.Struct)
				if err := dec(in); err != nil {
					return nil, err
				}
				next := func(ctx context.Context, req any) (any, error) { return h(ctx, full, req.(*structpb.Struct)) }
				if icpt == nil {
					return next(ctx, in)
				}
				return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, next)
			},
		}
	}
	return &grpc.ServiceDesc{
		ServiceName: serviceName,
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{method("Charge"), method("Refund")},
	}
}

// env is a real gRPC server on loopback serving the ledger behind the
// interceptor, with its own store, guard and client connection.
type env struct {
	t     *testing.T
	store *memstore.Store
	guard *idempotency.Guard
	conn  *grpc.ClientConn
}

type envOptions struct {
	guard *idempotency.Config
	cfg   *idemgrpc.Config
	store idempotency.Store // default: a fresh memstore
	// outer runs before the interceptor under test.
	outer grpc.UnaryServerInterceptor
	// dial are extra client options (a service config, the client
	// interceptor, transport credentials replacing insecure ones).
	dial []grpc.DialOption
	// server are extra server options (transport credentials).
	server []grpc.ServerOption
}

func newEnv(t *testing.T, h handlerFunc, o *envOptions) *env {
	t.Helper()
	if o == nil {
		o = &envOptions{}
	}
	e := &env{t: t, store: memstore.New(&memstore.Options{SweepInterval: -1})}
	var store idempotency.Store = e.store
	if o.store != nil {
		store = o.store
	}
	e.guard = idempotency.New(store, o.guard)
	chain := []grpc.UnaryServerInterceptor{idemgrpc.UnaryServerInterceptor(e.guard, o.cfg)}
	if o.outer != nil {
		chain = append([]grpc.UnaryServerInterceptor{o.outer}, chain...)
	}
	srv := grpc.NewServer(append([]grpc.ServerOption{grpc.ChainUnaryInterceptor(chain...)}, o.server...)...)
	srv.RegisterService(ledgerDesc(h), struct{}{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	dial := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, o.dial...)
	e.conn, err = grpc.NewClient(lis.Addr().String(), dial...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.conn.Close()
		srv.Stop()
		<-served
		_ = e.store.Close()
	})
	return e
}

// reply is the outcome of one call.
type reply struct {
	resp   *structpb.Struct
	header metadata.MD
	err    error
}

func (r reply) replayed() bool {
	v := r.header.Get(idemgrpc.ReplayedKey)
	return len(v) == 1 && v[0] == "true"
}

// clientA is the credentials of the tests' client; the interceptor's
// default scope needs some.
const clientA = "Bearer client-a"

// call invokes method with key in the metadata ("" for none), as the
// client of clientA, under a bound of its own.
func (e *env) call(method, key string, req *structpb.Struct) reply {
	return e.callAs(clientA, method, key, req)
}

// recordKey is the record key of a call of clientA with key: its scope is
// the default one, under the secret the interceptor keeps in the store.
func (e *env) recordKey(method, key string) string {
	e.t.Helper()
	rec, err := e.store.Get(context.Background(), idemgrpc.DefaultKeyPrefix+idemgrpc.SecretRecord)
	if err != nil {
		e.t.Fatalf("the scope secret: %v", err)
	}
	var text string
	if err := json.Unmarshal(rec.Value, &text); err != nil {
		e.t.Fatalf("the scope secret: %v", err)
	}
	secret, err := hex.DecodeString(text)
	if err != nil {
		e.t.Fatalf("the scope secret: %v", err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", clientA))
	return idemgrpc.RecordKey("", idemgrpc.CredentialScope(secret)(ctx), method, key)
}

// callAs is call with auth as the "authorization" metadata ("" for none).
func (e *env) callAs(auth, method, key string, req *structpb.Struct) reply {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if auth != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", auth)
	}
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, idemgrpc.MetadataKey, key)
	}
	var r reply
	r.resp = new(structpb.Struct)
	r.err = e.conn.Invoke(ctx, method, req, r.resp, grpc.Header(&r.header))
	return r
}

// newStruct builds a Struct, failing the test on values it cannot hold.
func newStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// gate holds handlers until opened; entered reports each arrival.
type gate struct {
	entered chan struct{}
	open    chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 100), open: make(chan struct{})} }

func (g *gate) wait(ctx context.Context) error {
	g.entered <- struct{}{}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitFor receives from ch within a bound, failing the test clearly.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out after 20s waiting for %s", what)
	}
}
