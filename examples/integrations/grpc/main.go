// Command grpc serves a ledger over gRPC behind idemgrpc and calls it
// through a flaky network: the first response of every call is lost after
// the handler ran, and grpc-go's retry policy sends the call again. The
// client interceptor keeps one key across the retries, so the retry gets
// the first response back instead of a second charge.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemgrpc"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "grpc:", err)
		os.Exit(1)
	}
}

// The service is registered by hand here, to need no generated code; with
// generated code, register it as usual (pb.RegisterLedgerServer).
const chargeMethod = "/ledger.Ledger/Charge"

var ledgerService = &grpc.ServiceDesc{
	ServiceName: "ledger.Ledger",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Charge",
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(structpb.Struct)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return srv.(*ledger).charge(ctx, req.(*structpb.Struct))
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: chargeMethod}, h)
		},
	}},
}

type ledger struct{ charges atomic.Int64 }

func (l *ledger) charge(ctx context.Context, req *structpb.Struct) (*structpb.Struct, error) {
	n := l.charges.Add(1)
	return structpb.NewStruct(map[string]any{
		"charge": fmt.Sprintf("ch_%d", n),
		"amount": req.Fields["amount"].GetNumberValue(),
	})
}

// lossy loses the first response of every call after the handler ran.
type lossy struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (l *lossy) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	key := metadata.ValueFromIncomingContext(ctx, idemgrpc.MetadataKey)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(key) == 1 && !l.seen[key[0]] {
		l.seen[key[0]] = true
		return nil, status.Error(codes.Unavailable, "connection reset")
	}
	return resp, err
}

const retryPolicy = `{"methodConfig": [{"name": [{"service": "ledger.Ledger"}],
	"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.1s",
		"backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`

func run(out io.Writer) error {
	g := idempotency.New(nil, nil) // in-memory; use a shared store with several servers
	defer g.Close()

	l := &ledger{}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(
		(&lossy{seen: map[string]bool{}}).intercept, // the network, in front of everything
		idemgrpc.UnaryServerInterceptor(g, &idemgrpc.Config{Required: true}),
	))
	srv.RegisterService(ledgerService, l)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(idemgrpc.UnaryClientInterceptor(nil)),
		grpc.WithDefaultServiceConfig(retryPolicy))
	if err != nil {
		return err
	}
	defer conn.Close()

	// The client's credentials (per-RPC credentials set the same
	// metadata): the interceptor keeps each client's keys apart by them.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer sk_test_ledger_client")
	for _, amount := range []float64{42, 7} {
		req, _ := structpb.NewStruct(map[string]any{"amount": amount})
		resp := new(structpb.Struct)
		var header metadata.MD
		if err := conn.Invoke(ctx, chargeMethod, req, resp, grpc.Header(&header)); err != nil {
			return err
		}
		fmt.Fprintf(out, "charged %v: %s (replayed after a lost response: %v)\n",
			amount, resp.Fields["charge"].GetStringValue(), header.Get(idemgrpc.ReplayedKey))
	}
	fmt.Fprintf(out, "charges made: %d\n", l.charges.Load())
	if n := l.charges.Load(); n != 2 {
		return fmt.Errorf("%d charges for 2 calls", n)
	}
	return nil
}
