package idemgrpc

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/credscope"
)

// UnaryServerInterceptor returns an interceptor that guards unary calls
// carrying MetadataKey with g: see the package documentation. A nil cfg
// means defaults. It panics on a nil Guard or an invalid Config.
func UnaryServerInterceptor(g *idempotency.Guard, cfg *Config) grpc.UnaryServerInterceptor {
	if g == nil {
		panic("idempotency: idemgrpc: nil Guard")
	}
	c := cfg.withDefaults()
	s := &server{g: g, cfg: c, scope: newScoper(g, &c), opts: []idempotency.CallOption{idempotency.WithWaitTimeout(-1)}}
	if c.Wait > 0 {
		s.opts[0] = idempotency.WithWaitTimeout(c.Wait)
	}
	if c.TTL != 0 {
		s.opts = append(s.opts, idempotency.WithTTL(c.TTL))
	}
	s.methods = set(c.Methods)
	s.release = slices.Clone(c.ReleaseCodes)
	return s.intercept
}

type server struct {
	g       *idempotency.Guard
	cfg     Config
	scope   *credscope.Scoper[context.Context]
	opts    []idempotency.CallOption
	methods map[string]bool // nil: all
	release []codes.Code
}

func set(names []string) map[string]bool {
	if names == nil {
		return nil
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (s *server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if s.methods != nil && !s.methods[info.FullMethod] {
		return handler(ctx, req)
	}
	values := metadata.ValueFromIncomingContext(ctx, MetadataKey)
	if len(values) == 0 {
		if s.cfg.Required {
			return nil, status.Error(codes.InvalidArgument, "idempotency: this call requires "+MetadataKey+" metadata")
		}
		return handler(ctx, req)
	}
	if err := s.checkKey(values); err != nil {
		return nil, err
	}
	var sb [64]byte
	scope, identified, err := s.scope.Append(ctx, sb[:0], ctx)
	switch {
	case err != nil:
		s.g.Config().Logger.ErrorContext(ctx, "idempotency: idemgrpc: no scope secret", "error", err)
		return nil, status.Error(codes.Unavailable, "idempotency: the call was not processed: its key could not be checked; retry later")
	case !identified:
		return nil, status.Error(codes.Unauthenticated, "idempotency: a call with "+MetadataKey+" metadata must identify its client (credentials), so that no other client shares its keys")
	}
	m, ok := req.(proto.Message)
	if !ok {
		return nil, status.Error(codes.Internal, "idempotency: the request is not a protocol buffer message; it cannot be guarded")
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, status.Error(codes.Internal, "idempotency: the request cannot be marshalled: "+err.Error())
	}
	key := RecordKey(s.cfg.KeyPrefix, string(scope), info.FullMethod, values[0])
	if len(key) > idempotency.MaxKeyLen {
		return nil, status.Error(codes.Internal, "idempotency: the client scope is too long to form a key")
	}
	opts := append(slices.Clip(s.opts), idempotency.WithFingerprint(fingerprint(info.FullMethod, body)))

	ran := false
	var resp any
	var herr error
	out, err := idempotency.Do(ctx, s.g, key, func(ctx context.Context) (stored, error) {
		ran = true
		resp, herr = handler(ctx, req)
		if herr == nil {
			return storeResponse(resp), nil
		}
		st := status.Convert(herr)
		if slices.Contains(s.release, st.Code()) {
			return stored{}, herr // the guard releases the key
		}
		return storeStatus(st), nil
	}, opts...)
	if ran {
		// The client gets the handler's own outcome; a failure to record
		// it was logged by the guard.
		return resp, herr
	}
	if err != nil {
		return nil, refusal(ctx, err)
	}
	// The header goes out even with an error status; it fails only
	// outside a server call, where there is nobody to tell.
	_ = grpc.SetHeader(ctx, metadata.Pairs(ReplayedKey, "true"))
	return out.replay()
}

func (s *server) checkKey(values []string) error {
	switch {
	case len(values) > 1:
		return status.Error(codes.InvalidArgument, "idempotency: "+MetadataKey+" metadata appears more than once")
	case values[0] == "":
		return status.Error(codes.InvalidArgument, "idempotency: "+MetadataKey+" metadata is empty")
	case len(values[0]) > s.cfg.MaxKeyLength:
		return status.Error(codes.InvalidArgument, "idempotency: "+MetadataKey+" metadata is longer than "+strconv.Itoa(s.cfg.MaxKeyLength)+" bytes")
	}
	return nil
}

// refusal is the status of a call that the guard did not run.
func refusal(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	switch {
	case errors.Is(err, idempotency.ErrKeyReused):
		return status.Error(codes.InvalidArgument, "idempotency: this key was already used with a different request")
	case errors.Is(err, idempotency.ErrInProgress):
		return status.Error(codes.Aborted, "idempotency: a call with this key is still being processed; retry later")
	case errors.Is(err, idempotency.ErrAbandoned):
		return status.Error(codes.FailedPrecondition, "idempotency: a call with this key stopped before it finished; it may or may not have taken effect, and it will not be processed again")
	case errors.Is(err, idempotency.ErrDuplicate):
		return status.Error(codes.AlreadyExists, "idempotency: this key was already used")
	case errors.Is(err, idempotency.ErrFailed):
		return status.Error(codes.FailedPrecondition, "idempotency: a call with this key failed, and the failure is final: "+err.Error())
	case errors.Is(err, idempotency.ErrStore):
		return status.Error(codes.Unavailable, "idempotency: the call was not processed: its key could not be checked; retry later")
	case errors.Is(err, idempotency.ErrResultUnavailable), errors.Is(err, idempotency.ErrCorrupt):
		return status.Error(codes.Internal, "idempotency: a call with this key was already processed, but its stored outcome cannot be read")
	}
	return status.Error(codes.Internal, "idempotency: the call was not processed")
}
