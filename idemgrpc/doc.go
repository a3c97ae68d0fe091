// Package idemgrpc guards unary gRPC calls with an idempotency key: a
// client that retries a call after a lost response gets the first
// response again instead of a second payment.
//
//	g := idempotency.New(store, nil)
//	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(
//		auth,
//		idemgrpc.UnaryServerInterceptor(g, &idemgrpc.Config{
//			Scope: func(ctx context.Context) string { return accountID(ctx) },
//		}),
//	))
//
//	conn, err := grpc.NewClient(target,
//		grpc.WithUnaryInterceptor(idemgrpc.UnaryClientInterceptor(nil)), ...)
//
// # What a call gets
//
// A unary call to a guarded method (Config.Methods, default all) that
// carries MetadataKey runs the handler at most once per key, method and
// client while the record lives (the guard's TTL, or Config.TTL). Clients
// are kept apart by default: the scope of a call is Config.Scope or, by
// default, a keyed digest of its credentials (CredentialScope: its
// "authorization" metadata and its TLS client certificate; or the metadata
// Config.ScopeMetadata names, MetadataScope), so that one
// client's key never replays another client's response; a keyed call that
// does not identify its client gets codes.Unauthenticated, and the handler
// does not run (Config.SharedKeySpace opts in to one key space). Later
// calls with that key, from that client, get:
//
//   - an equal response, stored as the protocol buffer wire encoding of
//     the handler's response and decoded into its type from the global
//     registry, with the header metadata "idempotent-replayed: true"
//     (ReplayedKey), without running the handler;
//   - the handler's error again, with its code, message and details, when
//     its code is not one of Config.ReleaseCodes;
//   - codes.Aborted while the first call is still running (at once by
//     default; Config.Wait makes them wait for its outcome instead);
//   - codes.InvalidArgument when the request differs from the first one:
//     the fingerprint is the method and the deterministic marshalling of
//     the request.
//
// A call without the key passes through unguarded, or gets
// codes.InvalidArgument when Config.Required is set; a malformed key
// (empty, repeated, longer than Config.MaxKeyLength) gets
// codes.InvalidArgument too.
//
// # Failures
//
// A handler error whose code is in Config.ReleaseCodes (by default
// Internal, Unavailable, DeadlineExceeded, Canceled, Unknown and
// ResourceExhausted: transient failures) releases the key, so that a retry
// runs the handler again; so does a panic, which then goes on up the stack.
// This holds under the guard's default OnFailure, Release; under Remember
// those failures are final too, and later calls get
// codes.FailedPrecondition with the original message.
//
// When the store fails before the handler runs, the call gets
// codes.Unavailable and the handler does not run (fail closed). When it
// fails to record the outcome, the client has it already and the guard
// logs the error; the claim stays, so retries get codes.Aborted until its
// lease lapses, after which one retry may run the handler again (the
// guard's takeover; under NoTakeover they get codes.FailedPrecondition).
// A stored outcome that cannot be read back (a response type missing from
// the registry) gets codes.Internal, and the handler does not run again.
//
// # Clients
//
// UnaryClientInterceptor attaches a fresh key to every call that has
// none. grpc-go retries below the interceptors (a retryPolicy in the
// service config, transparent retries), so all attempts of a call share
// its key. WithKey sets a key of the caller's choosing, for a caller that
// retries by calling again.
package idemgrpc
