package idemhttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/credscope"
)

// New returns middleware that guards requests carrying an Idempotency-Key
// with g: see the package documentation. A nil cfg means defaults. New
// panics on a nil Guard or an invalid Config.
func New(g *idempotency.Guard, cfg *Config) func(http.Handler) http.Handler {
	if g == nil {
		panic("idempotency: idemhttp: nil Guard")
	}
	c := cfg.withDefaults()
	h := &handler{
		g: g, cfg: c, scope: newScoper(g, &c), waiters: &waiters{n: map[string]int{}},
		opts:     []idempotency.CallOption{idempotency.WithWaitTimeout(-1)}, // duplicates wait in await
		remember: g.Config().OnFailure == idempotency.Remember,
	}
	if c.TTL != 0 {
		h.opts = append(h.opts, idempotency.WithTTL(c.TTL))
	}
	omit := c.OmitHeaders
	if !c.ReplaySensitiveHeaders {
		omit = append(omit[:len(omit):len(omit)], SensitiveHeaders...)
	}
	h.omit = map[string]bool{}
	for _, k := range omit {
		h.omit[http.CanonicalHeaderKey(k)] = true
	}
	if c.ReplayHeaders != nil {
		h.allow = map[string]bool{"Content-Type": true, "Content-Encoding": true}
		for _, k := range c.ReplayHeaders {
			h.allow[http.CanonicalHeaderKey(k)] = true
		}
	}
	h.methods = slices.Clone(c.Methods)
	h.problemTypes = make(map[string]string, len(problemTitles))
	for name := range problemTitles {
		h.problemTypes[name] = c.ProblemBase + name
	}
	return func(next http.Handler) http.Handler {
		hh := *h
		hh.next = next
		return &hh
	}
}

type handler struct {
	g       *idempotency.Guard
	cfg     Config
	scope   *credscope.Scoper[*http.Request]
	opts    []idempotency.CallOption
	omit    map[string]bool // canonical names
	allow   map[string]bool // ReplayHeaders; nil: every header
	methods []string
	waiters *waiters
	next    http.Handler
	// remember: the guard's failure policy is Remember.
	remember bool
	// problemTypes holds the type URI of each problem name.
	problemTypes map[string]string
}

// replayable reports whether ReplayHeaders lets header k be stored.
func (h *handler) replayable(k string) bool { return h.allow == nil || h.allow[k] }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(h.methods, r.Method) {
		h.next.ServeHTTP(w, r)
		return
	}
	lines := r.Header.Values(HeaderKey)
	if len(lines) == 0 {
		if h.cfg.Required {
			h.problem(w, r, &Error{Status: http.StatusBadRequest, Problem: ProblemMissingKey,
				Detail: "This request requires an Idempotency-Key header."})
			return
		}
		h.next.ServeHTTP(w, r)
		return
	}
	key, err := parseKey(lines, h.cfg.MaxKeyLength)
	if err != nil {
		h.problem(w, r, &Error{Status: http.StatusBadRequest, Problem: ProblemInvalidKey,
			Detail: "Idempotency-Key: " + err.(*KeyError).Reason + ".", Err: err})
		return
	}
	recKey, identified, err := recordKey(r.Context(), h.scope, r, h.cfg.KeyPrefix, key)
	switch {
	case err != nil:
		h.g.Config().Logger.ErrorContext(r.Context(), "idempotency: idemhttp: no scope secret", "error", err)
		h.problem(w, r, &Error{Status: http.StatusServiceUnavailable, Problem: ProblemStore, RetryAfter: 1, Err: err,
			Detail: "The request was not processed: its Idempotency-Key could not be checked. Retry later."})
		return
	case !identified:
		h.problem(w, r, &Error{Status: http.StatusUnauthorized, Problem: ProblemUnidentified,
			Detail: "A request with an Idempotency-Key must identify its client (credentials), so that no other client shares its keys."})
		return
	case len(recKey) > idempotency.MaxKeyLen:
		h.problem(w, r, &Error{Status: http.StatusInternalServerError, Problem: ProblemInternal,
			Detail: "The client scope is too long to form a key."})
		return
	}

	body, err := readBody(w, r, h.cfg.MaxRequestBytes)
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			h.problem(w, r, &Error{Status: http.StatusRequestEntityTooLarge, Problem: ProblemRequestTooLarge,
				Detail: "The request body is larger than " + byteSize(h.cfg.MaxRequestBytes) + "."})
			return
		}
		h.problem(w, r, &Error{Status: http.StatusBadRequest, Problem: ProblemBadRequest,
			Detail: "The request body could not be read.", Err: err})
		return
	}
	// The call's options on the stack: the guard does not keep them.
	var optBuf [4]idempotency.CallOption
	opts := append(append(optBuf[:0], h.opts...), idempotency.WithFingerprint(h.cfg.Fingerprint(r, body)))

	s, err := h.run(w, r, recKey, body, opts)
	if errors.Is(err, errRan) {
		return // the client has its response; a failure to record it was logged by the guard
	}
	if err != nil && h.cfg.Wait > 0 && h.g.Config().OnDuplicate == idempotency.ReturnStored && errors.Is(err, idempotency.ErrInProgress) {
		// Wait holding the fingerprint only.
		body = nil
		s, err = h.await(r, recKey, opts, err)
	}
	if err != nil {
		h.fail(w, r, recKey, err)
		return
	}
	if s.NotReplayable != "" {
		h.problem(w, r, &Error{Status: http.StatusConflict, Problem: ProblemNotReplayable,
			Detail: "A request with this Idempotency-Key was already processed, but its response cannot be replayed: " +
				s.NotReplayable + ". It will not be processed again.",
			OriginalStatus: s.Status})
		return
	}
	s.writeTo(w) // validated as it was decoded (UnmarshalResult)
}

// errRan is what run returns when the handler ran: the client has had its
// response, whatever became of the record.
var errRan = errors.New("idempotency: idemhttp: the handler ran")

// run claims recKey and, claimed, runs the handler and settles its
// response; under Config.Join, inside the Joiner's transaction, and sends
// the held response once the Joiner returned. A panic of the handler goes
// on once the claim is settled.
func (h *handler) run(w http.ResponseWriter, r *http.Request, recKey string, body []byte, opts []idempotency.CallOption) (storedResponse, error) {
	ctx := r.Context()
	var cancel context.CancelCauseFunc
	if h.remember {
		// Cancelling ctx is how a response that was not a final outcome
		// is released under the guard's Remember policy: the guard
		// releases the claim of a call whose context ended. Under
		// Release, the guard releases every failed call anyway.
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
	}
	var (
		st  ran
		s   storedResponse
		err error
	)
	if h.cfg.Join == nil {
		s, err = h.call(ctx, w, r, recKey, body, opts, cancel, &st)
	} else {
		// Only here does the call escape to the heap, through the Joiner,
		// with a copy of opts: the caller's stay on its stack.
		j := &joined{opts: slices.Clone(opts)}
		err = h.cfg.Join(ctx, h.g, recKey, func(ctx context.Context) error {
			j.called = true
			j.s, j.err = h.call(ctx, w, r, recKey, body, j.opts, cancel, &j.ran)
			return j.err
		})
		s, st = j.s, j.ran
		if !j.called && err == nil {
			err = errors.New("idempotency: idemhttp: Config.Join returned without running the call")
		}
		if st.rec != nil && st.panicked == nil {
			h.sendHeld(w, r, st.rec, recKey, st.kept, err)
		}
	}
	if st.panicked != nil {
		panic(st.panicked)
	}
	if st.rec != nil {
		if st.rec.policyPanic != nil {
			panic(st.rec.policyPanic) // the response is settled, and sent
		}
		return s, errRan
	}
	return s, err
}

// ran is what run learns of the handler's turn.
type ran struct {
	rec      *recorder // the handler ran
	kept     bool      // its response was settled as an outcome to record
	panicked any
}

// joined is a call made through Config.Join.
type joined struct {
	ran
	opts   []idempotency.CallOption
	called bool
	s      storedResponse
	err    error
}

// call is the guarded call of the handler: it claims recKey and, claimed,
// runs the handler and settles its response, telling st how.
func (h *handler) call(ctx context.Context, w http.ResponseWriter, r *http.Request, recKey string, body []byte,
	opts []idempotency.CallOption, cancel context.CancelCauseFunc, st *ran) (storedResponse, error) {
	return idempotency.Do(ctx, h.g, recKey, func(ctx context.Context) (storedResponse, error) {
		rec := newRecorder(ctx, w, h)
		st.rec = rec
		hr := r.WithContext(&rec.ctx)
		rec.reqBody.reset(body)
		hr.Body, hr.GetBody, hr.ContentLength = &rec.reqBody, rec.reqBody.again, int64(len(body))
		func() {
			defer func() { st.panicked = recover() }()
			h.next.ServeHTTP(rec, hr)
		}()
		s, err := h.settle(rec, r, ending{panicked: st.panicked, clientGone: r.Context().Err() != nil})
		st.kept = err == nil
		if re, ok := err.(*releaseError); ok && re.retry && cancel != nil {
			cancel(re)
		}
		return s, err
	}, opts...)
}

// sendHeld answers with a response held for Config.Join, once the Joiner
// returned err: the handler's response, unless it was kept but did not
// commit (err), or could not be held.
func (h *handler) sendHeld(w http.ResponseWriter, r *http.Request, rec *recorder, recKey string, kept bool, err error) {
	switch {
	case rec.tooLarge:
		h.problem(w, r, &Error{Status: http.StatusInternalServerError, Problem: ProblemResponseTooLarge,
			Detail: "The response was larger than " + byteSize(h.cfg.MaxResponseBytes) +
				", which is the most that can be held until the request's transaction commits. Nothing was committed."})
	case kept && err != nil:
		h.g.Config().Logger.ErrorContext(r.Context(), "idempotency: idemhttp: the joined transaction did not commit",
			keyAttr(h.g.Config(), recKey), "error", err)
		h.problem(w, r, &Error{Status: http.StatusServiceUnavailable, Problem: ProblemStore, RetryAfter: 1, Err: err,
			Detail: "The request's transaction did not commit. Retry later with the same Idempotency-Key."})
	default:
		rec.deliver()
	}
}

// readBody reads the whole body of r, up to limit bytes: a larger body is
// an *http.MaxBytesError. A body of a declared length is read into one
// buffer of that size.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength < 0 || r.ContentLength > limit {
		return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	// One byte more than declared, to see the end without growing. A
	// server's body ends at its Content-Length; another may go on.
	b := make([]byte, 0, r.ContentLength+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		switch {
		case int64(len(b)) > limit:
			return nil, &http.MaxBytesError{Limit: limit}
		case err == io.EOF:
			return b, nil
		case err != nil:
			return nil, err
		}
	}
}

// readBack is the body of a guarded request once the middleware read it:
// the handler reads it again, and so can GetBody.
type readBack struct {
	bytes.Reader
	body []byte
}

func (b *readBack) reset(body []byte) { b.body = body; b.Reset(body) }

func (*readBack) Close() error { return nil }

func (b *readBack) again() (io.ReadCloser, error) {
	again := new(readBack)
	again.reset(b.body)
	return again, nil
}

// fail answers a request that the guard refused.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, recKey string, err error) {
	e := &Error{Err: err}
	switch {
	case errors.Is(err, idempotency.ErrKeyReused):
		e.Status, e.Problem, e.Detail = http.StatusUnprocessableEntity, ProblemKeyReused,
			"This Idempotency-Key was already used with a different request (method, path or body)."
	case errors.Is(err, idempotency.ErrInProgress):
		e.Status, e.Problem, e.Detail = http.StatusConflict, ProblemInProgress,
			"A request with this Idempotency-Key is still being processed. Retry later."
		e.RetryAfter = h.retryAfter(r.Context(), recKey)
	case errors.Is(err, idempotency.ErrAbandoned):
		e.Status, e.Problem, e.Detail = http.StatusConflict, ProblemAbandoned,
			"A request with this Idempotency-Key stopped before it finished; it may or may not have taken effect, and it will not be processed again."
	case errors.Is(err, idempotency.ErrDuplicate):
		e.Status, e.Problem, e.Detail = http.StatusConflict, ProblemDuplicate,
			"This Idempotency-Key was already used."
	case errors.Is(err, idempotency.ErrFailed):
		e.Status, e.Problem, e.Detail = http.StatusInternalServerError, ProblemFailed,
			"A request with this Idempotency-Key failed, and the failure is final."
	case errors.Is(err, idempotency.ErrResultUnavailable), errors.Is(err, idempotency.ErrCorrupt):
		h.g.Config().Logger.ErrorContext(r.Context(), "idempotency: idemhttp: stored response cannot be replayed",
			keyAttr(h.g.Config(), recKey), "error", err)
		e.Status, e.Problem, e.Detail = http.StatusInternalServerError, ProblemUnavailable,
			"A request with this Idempotency-Key was already processed, but its stored response cannot be read."
	case errors.Is(err, idempotency.ErrStore):
		e.Status, e.Problem, e.Detail = http.StatusServiceUnavailable, ProblemStore,
			"The request was not processed: its Idempotency-Key could not be checked. Retry later."
		e.RetryAfter = 1
	default:
		// Not the guard's answer: a Config.Join that could not join.
		h.g.Config().Logger.ErrorContext(r.Context(), "idempotency: idemhttp: request not processed",
			keyAttr(h.g.Config(), recKey), "error", err)
		e.Status, e.Problem, e.Detail = http.StatusInternalServerError, ProblemInternal, "The request was not processed."
	}
	h.problem(w, r, e)
}

// retryAfter is the Retry-After of a 409 for a key in progress: the
// seconds left of the running request's lease, rounded up, at least 1 (and
// 1 when the record cannot be read). The lease is on the store's clock;
// the guard's Lease bounds what a skewed clock can add.
func (h *handler) retryAfter(ctx context.Context, recKey string) int {
	rec, err := h.g.Lookup(ctx, recKey)
	if err != nil || rec.Status != idempotency.StatusInProgress {
		return 1
	}
	return retrySeconds(time.Until(rec.LeaseUntil), h.g.Config().Lease)
}

// retrySeconds rounds the time left of a lease up to whole seconds, at
// least 1 and at most the lease.
func retrySeconds(left, lease time.Duration) int {
	return max(1, int(math.Ceil(min(left, lease).Seconds())))
}

// keyAttr shows a record key in a log line as the guard's own lines do:
// a keyed digest, since keys carry what clients put in them, and the key
// itself only under Config.LogRawKeys.
func keyAttr(c idempotency.Config, recKey string) slog.Attr {
	if c.LogRawKeys {
		return slog.String("key", recKey)
	}
	return slog.String("key_hmac", idempotency.KeyDigest(c.LogKeySecret, recKey))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
