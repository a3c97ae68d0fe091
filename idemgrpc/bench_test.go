package idemgrpc_test

import (
	"context"
	"net"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemgrpc"
)

// BenchmarkUnary measures one unary call over an in-memory connection:
// without the interceptor (the baseline), through it without a key, as a
// first call with a fresh key, and as a replay of a recorded response.
func BenchmarkUnary(b *testing.B) {
	echo := func(ctx context.Context, method string, req *structpb.Struct) (*structpb.Struct, error) {
		return req, nil
	}
	dial := func(b *testing.B, opts ...grpc.ServerOption) *grpc.ClientConn {
		srv := grpc.NewServer(opts...)
		srv.RegisterService(ledgerDesc(echo), struct{}{})
		lis := bufconn.Listen(1 << 20)
		go func() { _ = srv.Serve(lis) }()
		conn, err := grpc.NewClient("passthrough:///bench",
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = conn.Close(); srv.Stop() })
		return conn
	}
	req, _ := structpb.NewStruct(map[string]any{"amount": 42, "currency": "EUR", "note": "invoice 1042"})
	g := idempotency.New(nil, nil)
	b.Cleanup(func() { _ = g.Close() })
	guarded := grpc.UnaryInterceptor(idemgrpc.UnaryServerInterceptor(g, nil))

	for _, c := range []struct {
		name string
		opts []grpc.ServerOption
		key  func(i int) string
	}{
		{"baseline", nil, nil},
		{"no key", []grpc.ServerOption{guarded}, nil},
		{"first call", []grpc.ServerOption{guarded}, func(i int) string { return b.Name() + strconv.Itoa(i) }},
		{"replay", []grpc.ServerOption{guarded}, func(int) string { return "same" }},
	} {
		b.Run(c.name, func(b *testing.B) {
			conn := dial(b, c.opts...)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer client-a")
				if c.key != nil {
					ctx = metadata.AppendToOutgoingContext(ctx, idemgrpc.MetadataKey, c.key(i))
				}
				i++
				if err := conn.Invoke(ctx, methodCharge, req, new(structpb.Struct)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
