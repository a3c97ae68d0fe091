package idemhttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/idempotency-go/idempotency"
)

// New returns middleware that guards requests carrying an Idempotency-Key
// with g: see the package documentation. A nil cfg means defaults. New
// panics on a nil Guard or an invalid Config.
func New(g *idempotency.Guard, cfg *Config) func(http.Handler) http.Handler {
	if g == nil {
		panic("idempotency: idemhttp: nil Guard")
	}
	c := cfg.withDefaults()
	h := &handler{g: g, cfg: c, opts: []idempotency.CallOption{idempotency.WithWaitTimeout(-1)}}
	if c.Wait > 0 {
		h.opts[0] = idempotency.WithWaitTimeout(c.Wait)
	}
	if c.TTL != 0 {
		h.opts = append(h.opts, idempotency.WithTTL(c.TTL))
	}
	omit := c.OmitHeaders
	if !c.ReplaySensitiveHeaders {
		omit = append(omit[:len(omit):len(omit)], SensitiveHeaders...)
	}
	for _, k := range omit {
		h.omit = append(h.omit, http.CanonicalHeaderKey(k))
	}
	h.methods = slices.Clone(c.Methods)
	return func(next http.Handler) http.Handler {
		hh := *h
		hh.next = next
		return &hh
	}
}

type handler struct {
	g       *idempotency.Guard
	cfg     Config
	opts    []idempotency.CallOption
	omit    []string
	methods []string
	next    http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(h.methods, r.Method) {
		h.next.ServeHTTP(w, r)
		return
	}
	lines := r.Header.Values(HeaderKey)
	if len(lines) == 0 {
		if h.cfg.Required {
			h.problem(w, http.StatusBadRequest, ProblemMissingKey, "This request requires an Idempotency-Key header.")
			return
		}
		h.next.ServeHTTP(w, r)
		return
	}
	key, err := parseKey(lines, h.cfg.MaxKeyLength)
	if err != nil {
		h.problem(w, http.StatusBadRequest, ProblemInvalidKey, "Idempotency-Key: "+err.(*KeyError).Reason+".")
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBytes))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			h.problem(w, http.StatusRequestEntityTooLarge, ProblemRequestTooLarge,
				"The request body is larger than "+byteSize(h.cfg.MaxRequestBytes)+".")
			return
		}
		h.problem(w, http.StatusBadRequest, ProblemBadRequest, "The request body could not be read.")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))

	var scope string
	if h.cfg.Scope != nil {
		scope = h.cfg.Scope(r)
	}
	recKey := RecordKey(h.cfg.KeyPrefix, scope, key)
	if len(recKey) > idempotency.MaxKeyLen {
		h.problem(w, http.StatusInternalServerError, ProblemInternal, "The client scope is too long to form a key.")
		return
	}
	opts := append(slices.Clip(h.opts), idempotency.WithFingerprint(h.cfg.Fingerprint(r, body)))

	ran := false
	s, err := idempotency.Do(r.Context(), h.g, recKey, func(ctx context.Context) (storedResponse, error) {
		ran = true
		rec := newRecorder(w, h)
		h.next.ServeHTTP(rec, r.WithContext(ctx))
		s := rec.result()
		if s.Status >= 500 && s.NotReplayable == "" && !h.cfg.StoreServerErrors {
			return s, &serverError{status: s.Status}
		}
		return s, nil
	}, opts...)
	if ran {
		// The client has its response; a failure to record it was logged
		// by the guard.
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	if s.NotReplayable != "" {
		p := problem{
			Type:   h.cfg.ProblemBase + ProblemNotReplayable,
			Title:  problemTitles[ProblemNotReplayable],
			Status: http.StatusConflict,
			Detail: "A request with this Idempotency-Key was already processed, but its response cannot be replayed: " +
				s.NotReplayable + ". It will not be processed again.",
			OriginalStatus: s.Status,
		}
		h.writeProblem(w, p)
		return
	}
	if err := s.validate(); err != nil {
		h.g.Config().Logger.ErrorContext(r.Context(), "idempotency: idemhttp: stored response cannot be replayed",
			"key", recKey, "error", err)
		h.problem(w, http.StatusInternalServerError, ProblemUnavailable,
			"A request with this Idempotency-Key was already processed, but its stored response cannot be read.")
		return
	}
	s.writeTo(w)
}

// fail answers a request that the guard refused.
func (h *handler) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, idempotency.ErrKeyReused):
		h.problem(w, http.StatusUnprocessableEntity, ProblemKeyReused,
			"This Idempotency-Key was already used with a different request (method, path or body).")
	case errors.Is(err, idempotency.ErrInProgress):
		h.problem(w, http.StatusConflict, ProblemInProgress,
			"A request with this Idempotency-Key is still being processed. Retry later.")
	case errors.Is(err, idempotency.ErrAbandoned):
		h.problem(w, http.StatusConflict, ProblemAbandoned,
			"A request with this Idempotency-Key stopped before it finished; it may or may not have taken effect, and it will not be processed again.")
	case errors.Is(err, idempotency.ErrDuplicate):
		h.problem(w, http.StatusConflict, ProblemDuplicate,
			"This Idempotency-Key was already used.")
	case errors.Is(err, idempotency.ErrFailed):
		h.problem(w, http.StatusInternalServerError, ProblemFailed,
			"A request with this Idempotency-Key failed, and the failure is final.")
	case errors.Is(err, idempotency.ErrResultUnavailable), errors.Is(err, idempotency.ErrCorrupt):
		h.problem(w, http.StatusInternalServerError, ProblemUnavailable,
			"A request with this Idempotency-Key was already processed, but its stored response cannot be read.")
	case errors.Is(err, idempotency.ErrStore):
		w.Header().Set("Retry-After", "1")
		h.problem(w, http.StatusServiceUnavailable, ProblemStore,
			"The request was not processed: its Idempotency-Key could not be checked. Retry later.")
	default:
		h.problem(w, http.StatusInternalServerError, ProblemInternal, "The request was not processed.")
	}
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
