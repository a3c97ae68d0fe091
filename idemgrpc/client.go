package idemgrpc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// UnaryClientInterceptor returns an interceptor that attaches a fresh key
// (MetadataKey) to every unary call that does not carry one yet. The
// interceptor runs once per logical call and grpc-go retries a call (its
// retry policy, transparent retries) below it, so every attempt of one
// call carries the same key: a retry after a lost response gets the first
// attempt's response instead of a second effect. A caller that retries by
// calling again, or that wants the key tied to its own data, sets the key
// itself with WithKey. A nil cfg means defaults.
func UnaryClientInterceptor(cfg *ClientConfig) grpc.UnaryClientInterceptor {
	var c ClientConfig
	if cfg != nil {
		c = *cfg
	}
	if c.NewKey == nil {
		c.NewKey = NewKey
	}
	methods := set(c.Methods)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if (methods == nil || methods[method]) && !hasKey(ctx) {
			ctx = metadata.AppendToOutgoingContext(ctx, MetadataKey, c.NewKey())
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// WithKey returns a context whose outgoing calls carry key as
// MetadataKey, replacing any key set before. Use the same key for every
// attempt of one logical call, for example one derived from the order or
// payment it is about.
func WithKey(ctx context.Context, key string) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(MetadataKey, key)
	return metadata.NewOutgoingContext(ctx, md)
}

func hasKey(ctx context.Context) bool {
	md, _ := metadata.FromOutgoingContext(ctx)
	return len(md.Get(MetadataKey)) > 0
}
