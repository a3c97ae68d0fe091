package idemgrpc_test

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemgrpc"
)

// A client retries a charge whose response it did not get: the server
// replays the first response instead of charging again.
func Example() {
	g := idempotency.New(nil, nil) // in-memory store
	defer g.Close()

	charges := 0
	srv := grpc.NewServer(grpc.UnaryInterceptor(idemgrpc.UnaryServerInterceptor(g, nil)))
	srv.RegisterService(ledgerDesc(func(ctx context.Context, method string, req *structpb.Struct) (*structpb.Struct, error) {
		charges++
		return structpb.NewStruct(map[string]any{"charge": charges, "amount": req.Fields["amount"].GetNumberValue()})
	}), struct{}{})
	lis := bufconn.Listen(1 << 20)
	go srv.Serve(lis)
	defer srv.Stop()

	conn, err := grpc.NewClient("passthrough:///ledger",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	// The same logical call twice: one key, from one client (its
	// credentials keep its keys apart from other clients').
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer sk_live_client_42")
	ctx = idemgrpc.WithKey(ctx, "order-1042")
	req, _ := structpb.NewStruct(map[string]any{"amount": 25})
	for range 2 {
		var header metadata.MD
		resp := new(structpb.Struct)
		if err := conn.Invoke(ctx, methodCharge, req, resp, grpc.Header(&header)); err != nil {
			panic(err)
		}
		fmt.Printf("charge %v of %v, replayed: %v\n",
			resp.Fields["charge"].GetNumberValue(), resp.Fields["amount"].GetNumberValue(), header.Get(idemgrpc.ReplayedKey))
	}
	fmt.Println("charges made:", charges)
	// Output:
	// charge 1 of 25, replayed: []
	// charge 1 of 25, replayed: [true]
	// charges made: 1
}

// The client interceptor gives every call a key of its own, kept across
// grpc-go's retries of that call.
func ExampleUnaryClientInterceptor() {
	conn, err := grpc.NewClient("dns:///ledger.internal:443",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(idemgrpc.UnaryClientInterceptor(nil)),
		grpc.WithDefaultServiceConfig(`{"methodConfig": [{"name": [{"service": "ledger.Ledger"}],
			"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
				"backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Println("ready")
	// Output: ready
}

// Scope keeps clients apart: the same key from two accounts is two calls.
func ExampleConfig_scope() {
	g := idempotency.New(nil, nil)
	defer g.Close()
	_ = idemgrpc.UnaryServerInterceptor(g, &idemgrpc.Config{
		Required: true,
		Methods:  []string{"/ledger.Ledger/Charge", "/ledger.Ledger/Refund"},
		Scope: func(ctx context.Context) string {
			// Set by an authentication interceptor that runs first and
			// refuses calls without an account.
			md, _ := metadata.FromIncomingContext(ctx)
			if v := md.Get("x-account-id"); len(v) == 1 {
				return v[0]
			}
			return ""
		},
	})
	fmt.Println(idemgrpc.RecordKey("", "acct-9", "/ledger.Ledger/Charge", "order-1042"))
	// Output: idemgrpc:6:acct-921:/ledger.Ledger/Chargeorder-1042
}

// The default scope is a keyed digest of a call's credentials: the same
// for one client's calls, another for another client, none without
// credentials (such a keyed call gets codes.Unauthenticated).
func ExampleCredentialScope() {
	scope := idemgrpc.CredentialScope([]byte("32 random bytes from a vault...."))
	from := func(auth string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", auth))
	}
	a := scope(from("Bearer token-a"))
	fmt.Println(len(a), a == scope(from("Bearer token-a")), a == scope(from("Bearer token-b")))
	fmt.Printf("%q\n", scope(context.Background()))
	// Output:
	// 22 true false
	// ""
}

// An API key in metadata tells clients apart instead of "authorization".
func ExampleMetadataScope() {
	scope := idemgrpc.MetadataScope([]byte("32 random bytes from a vault...."), "x-api-key")
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-api-key", "key-live-42"))
	fmt.Println(len(scope(ctx)))
	// Output: 22
}
