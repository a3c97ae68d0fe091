// Package idemhttp is net/http middleware for the Idempotency-Key request
// header (IETF draft-ietf-httpapi-idempotency-key-header): a client that
// retries a POST after a timeout gets the first response again instead of
// a second payment.
//
//	g := idempotency.New(store, nil)
//	mw := idemhttp.New(g, &idemhttp.Config{
//		Required: true,
//		Scope:    func(r *http.Request) string { return accountID(r) },
//	})
//	http.ListenAndServe(addr, auth(mw(mux)))
//
// # What a request gets
//
// A request whose method is guarded (POST and PATCH by default) and that
// carries an Idempotency-Key runs the handler at most once per key and
// client (Config.Scope) while the record lives (the guard's TTL, or
// Config.TTL). Later requests with that key get:
//
//   - the stored response (status, headers, body, trailers), byte for byte,
//     with "Idempotent-Replayed: true", without calling the handler;
//   - 409 Conflict while the first request is still running, with
//     Retry-After: the seconds left of its lease, rounded up, at least 1
//     (at once by default; Config.Wait makes them wait for its response
//     instead, up to Config.MaxWaiters per key);
//   - 422 Unprocessable Content when the request differs from the first one
//     (method, path and query, body: Config.Fingerprint).
//
// A request without the header passes through unguarded, or gets 400 when
// Config.Required is set; a malformed key gets 400. Errors are
// application/problem+json documents (RFC 9457) whose type is
// Config.ProblemBase followed by one of the Problem* names, or whatever
// Config.ErrorHandler writes.
//
// # Clients apart
//
// Keys are per client, as the draft recommends, so that no client can
// replay another's response (its body, Location, tokens) nor take a key
// first so that another client's request never runs. Without Config.Scope
// the client is told apart by its credentials (Authorization, cookies, TLS
// client certificate), as a keyed digest under Config.ScopeSecret
// (CredentialScope) that store keys, listings and logs can show without
// giving the credentials away. A guarded request without credentials, or
// one for which a configured Scope returns "", gets 401
// (ProblemUnidentified): it never shares an empty scope with others.
// Without a ScopeSecret, the secret is made once and kept in the store, so
// that every server of the store and every restart uses the same one (a
// secret made per process would run every retry again after a restart).
// Config.SharedKeySpace opts in to one key space for a service with a
// single client.
//
// # Which responses are kept
//
// One rule settles every response once the handler returns:
//
//  1. A response whose status was never written, because the handler
//     panicked or its client left first, is released: a retry runs the
//     handler.
//  2. A response that Config.Keep does not keep (by default 5xx, 408, 425
//     and 429: DefaultKeep), or that the handler discarded (Discard), is
//     released, however large it was.
//  3. A kept response that cannot be replayed whole is recorded as a
//     marker: duplicates get 409 with the type ProblemNotReplayable and
//     the handler is never run again, since it may have had its effect.
//     That is a response larger than Config.MaxResponseBytes (body, header
//     and trailer bytes), one that hijacked the connection, and one that
//     started and stopped short: its client left, a write failed, its
//     body was not as long as the Content-Length the handler declared, or
//     the handler aborted it (http.ErrAbortHandler or another panic). A
//     truncated response is never replayed. (A body written for a status
//     that has none, such as 204, is dropped, as net/http drops it.)
//  4. Every other response is recorded and replayed.
//
// A released response is released even under the guard's Remember policy,
// except a 5xx, which that policy remembers as a failure (duplicates get
// 500 with the type ProblemFailed). A panic goes on up the stack once the
// key is settled, to net/http or to a recovery middleware. The guard's
// Observer sees a response that was not kept as an EventExecuted whose Err
// matches ErrDiscarded.
//
// When the store fails before the handler runs, the request gets 503 and
// the handler does not run (fail closed). When it fails to record the
// response, the client has it already and the guard logs the error; the
// claim stays, so retries get 409 until its lease lapses, after which one
// retry may run the handler again (the guard's takeover, at-least-once for
// that failure only; under the guard's NoTakeover they get 409 with the
// type ProblemAbandoned instead).
//
// # Resources
//
// A waiting duplicate holds only its fingerprint, not its body: if the
// request it waits for is released rather than answered, it gets 409 with
// Retry-After and its client sends it again. Request bodies are bounded
// by Config.MaxRequestBytes, stored responses by Config.MaxResponseBytes,
// waiters by Config.MaxWaiters. The middleware sets no timeouts: a client
// that stops reading keeps its handler running, and its lease renewed,
// until the server's WriteTimeout (set one, or a write deadline per
// request through http.ResponseController).
//
// # Streaming
//
// The handler's writes go straight to the client as they happen (unless
// Config.Join holds them), while a copy is kept for the record; Flush
// (http.Flusher and http.ResponseController) works, and the wrapping
// ResponseWriter has an
// Unwrap method so that http.ResponseController reaches the server's own
// writer for deadlines and full duplex. No lock is held across requests:
// requests with different keys never wait for each other.
//
// Request bodies of guarded requests are read once, up to
// Config.MaxRequestBytes (413 past it), to fingerprint them, and handed to
// the handler intact (with its ContentLength and a GetBody) on the
// request the handler gets; the request the middleware was given keeps
// its body, read to the end.
//
// # Transaction join
//
// With Config.Join (pgstore.JoinTx), each guarded request runs in one
// database transaction that claims its key, holds the handler's writes
// (the handler gets it from pgstore.TxFromRequest) and records its
// response before it commits: a process killed before the commit leaves
// neither writes nor record, and the retry runs the handler once. The
// response is then held, not streamed, and reaches the client only after
// the commit; see [Joiner] for what a held response cannot do.
//
// # Wrapping order
//
// The middleware has the shape func(http.Handler) http.Handler, so it fits
// the standard mux, chi (r.Use) and any router that takes that shape.
// Place it:
//
//   - inside authentication, so that Config.Scope can read who the client
//     is (keys are per client: one client's key never replays another
//     client's response);
//   - inside request-id, logging, CORS and recovery middleware: headers
//     such middleware sets before the handler runs are theirs, and are
//     neither stored nor replayed, and a recovery middleware outside sees
//     the handler's panics after the key was released;
//   - around the handlers whose effects must happen once, together with
//     the middleware whose headers belong to the response (those inside it
//     are stored and replayed). Compression goes outside it, so that the
//     stored body is the uncompressed one and each replay is encoded for
//     its own client.
//
// Hop-by-hop headers, SensitiveHeaders such as Set-Cookie (unless
// Config.ReplaySensitiveHeaders), Config.OmitHeaders and the Date header
// net/http adds are never stored, whatever the case of the names a
// handler sets in the header map. The record holds the other headers and
// trailers as net/http sent them (line breaks in values as spaces, names
// that are not tokens dropped), bytes outside UTF-8 included; the replay
// carries the replaying server's Date and framing (Content-Length or
// chunked).
// Config.ReplayHeaders turns this denylist into an allowlist.
//
// Middleware for other frameworks and proxies can check their behaviour
// with the conformance suite in package idemhttptest.
package idemhttp
