package idemhttp

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/idempotency-go/idempotency"
)

// waiters counts, per record key, the duplicates waiting in this process.
type waiters struct {
	mu sync.Mutex
	n  map[string]int
}

func (w *waiters) enter(key string, max int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n[key] >= max {
		return false
	}
	w.n[key]++
	return true
}

func (w *waiters) leave(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n[key]--; w.n[key] <= 0 {
		delete(w.n, key)
	}
}

// errNoBody releases a claim a waiting duplicate got because the first
// request ended without an outcome: it dropped its body to wait, so it
// cannot run the handler; its client is told to retry.
var errNoBody = &releaseError{reason: "a waiting duplicate found the key free and no longer holds its body", retry: true}

// await waits up to Config.Wait for the request in progress under recKey
// (conflict is the guard's ErrInProgress for it), then claims again to
// replay its response. It holds nothing of the request but its
// fingerprint (in opts). When the key turns out free, the claim is released
// at once and the request gets ErrInProgress, so that its client sends it
// again, body and all.
func (h *handler) await(r *http.Request, recKey string, opts []idempotency.CallOption, conflict error) (storedResponse, error) {
	if !h.waiters.enter(recKey, h.cfg.MaxWaiters) {
		return storedResponse{}, conflict
	}
	defer h.waiters.leave(recKey)
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Wait)
	defer cancel()
	err := conflict
	for {
		var ie *idempotency.Error
		if !errors.As(err, &ie) || h.waitChange(ctx, recKey, ie.Token) != nil {
			return storedResponse{}, err
		}
		dctx, dcancel := context.WithCancelCause(r.Context())
		ran := false
		var s storedResponse
		s, err = idempotency.Do(dctx, h.g, recKey, func(context.Context) (storedResponse, error) {
			ran = true
			dcancel(errNoBody)
			return storedResponse{}, errNoBody
		}, opts...)
		dcancel(nil)
		if ran {
			return storedResponse{}, &idempotency.Error{Kind: idempotency.ErrInProgress, Key: recKey, Err: errNoBody}
		}
		if !errors.Is(err, idempotency.ErrInProgress) {
			return s, err
		}
	}
}

// Polling bounds of waitChange: the guard's are 5ms to 500ms; a request
// holds a client connection, so it looks twice as often at the longest.
const (
	minPoll = 5 * time.Millisecond
	maxPoll = 250 * time.Millisecond
)

// waitChange returns once the record of recKey is no longer the execution
// token in progress (completed, released, taken over, or its lease
// lapsed), or with ctx's error. It polls the store, and is woken early by
// a store that can notify (by the guard's rule: [idempotency.Guard.Watch]).
func (h *handler) waitChange(ctx context.Context, recKey string, token idempotency.Token) error {
	changed, stop := h.g.Watch(ctx, recKey)
	defer stop()
	poll := minPoll
	for {
		rec, err := h.g.Lookup(ctx, recKey)
		if errors.Is(err, idempotency.ErrNotFound) || err == nil &&
			(rec.Status != idempotency.StatusInProgress || rec.Token != token || !time.Now().Before(rec.LeaseUntil)) {
			return ctx.Err() // changed: the claim decides
		}
		// Running, or unknown (a read that failed): look again later.
		t := time.NewTimer(poll)
		select {
		case <-changed:
			changed = nil // it fired; poll from now on
		case <-t.C:
			poll = min(2*poll, maxPoll)
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}
