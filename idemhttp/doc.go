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
//   - 409 Conflict while the first request is still running (at once by
//     default; Config.Wait makes them wait for its response instead);
//   - 422 Unprocessable Content when the request differs from the first one
//     (method, path and query, body: Config.Fingerprint).
//
// A request without the header passes through unguarded, or gets 400 when
// Config.Required is set; a malformed key gets 400. Errors are
// application/problem+json documents (RFC 9457) whose type is
// Config.ProblemBase followed by one of the Problem* names.
//
// # Failures
//
// A 5xx response or a panic releases the key, so that a retry runs the
// handler again (Config.StoreServerErrors stores 5xx responses instead).
// A panic goes on up the stack after the release, to net/http or to a
// recovery middleware. Every other response is stored. A response larger
// than Config.MaxResponseBytes is still streamed to the client in full,
// but only a marker is recorded: duplicates get 409 with the type
// ProblemNotReplayable and the handler is not run again, since it already
// had its effect. The same holds for a handler that hijacks the
// connection.
//
// When the store fails before the handler runs, the request gets 503 and
// the handler does not run (fail closed). When it fails to record the
// response, the client has it already and the guard logs the error; the
// claim stays, so retries get 409 until its lease lapses, after which one
// retry may run the handler again (the guard's takeover, at-least-once for
// that failure only; under the guard's NoTakeover they get 409 with the
// type ProblemAbandoned instead).
//
// # Streaming
//
// The handler's writes go straight to the client as they happen, while a
// copy is kept for the record; Flush (http.Flusher and
// http.ResponseController) works, and the wrapping ResponseWriter has an
// Unwrap method so that http.ResponseController reaches the server's own
// writer for deadlines and full duplex. No lock is held across requests:
// requests with different keys never wait for each other.
//
// Request bodies of guarded requests are read once, up to
// Config.MaxRequestBytes (413 past it), to fingerprint them, and handed to
// the handler intact.
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
// net/http adds are never stored; the replay carries the replaying
// server's Date and framing (Content-Length or chunked).
package idemhttp
