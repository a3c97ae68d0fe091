package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Payment is what the API creates.
type Payment struct {
	ID       string    `json:"id"`
	Account  string    `json:"account"`
	Amount   int64     `json:"amount"` // minor units (cents)
	Currency string    `json:"currency"`
	Status   string    `json:"status"`
	Created  time.Time `json:"created"`
}

// api keeps payments in memory; a real service would call a payment
// provider and write a database.
type api struct {
	delay time.Duration

	mu       sync.Mutex
	payments []Payment
}

func newAPI(delay time.Duration) *api { return &api{delay: delay} }

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// create makes a payment: the side effect the Idempotency-Key guards.
func (a *api) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be JSON: {\"amount\": 4200, \"currency\": \"EUR\"}")
		return
	}
	if in.Amount <= 0 || !currencyRE.MatchString(in.Currency) {
		writeError(w, http.StatusBadRequest, "amount must be positive and currency three capital letters")
		return
	}
	if err := sleep(r.Context(), a.delay); err != nil {
		writeError(w, http.StatusServiceUnavailable, "the payment provider did not answer")
		return
	}
	a.mu.Lock()
	p := Payment{
		ID:       fmt.Sprintf("pay_%06d", len(a.payments)+1),
		Account:  accountOf(r),
		Amount:   in.Amount,
		Currency: in.Currency,
		Status:   "succeeded",
		Created:  time.Now().UTC().Truncate(time.Second),
	}
	a.payments = append(a.payments, p)
	a.mu.Unlock()

	w.Header().Set("Location", "/payments/"+p.ID)
	writeJSON(w, http.StatusCreated, p)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []Payment{}
	for _, p := range a.payments {
		if p.Account == accountOf(r) {
			out = append(out, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.payments {
		if p.ID == r.PathValue("id") && p.Account == accountOf(r) {
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	writeError(w, http.StatusNotFound, "no such payment")
}

// apiKeys maps the demo's API keys to accounts. The account, not the key,
// scopes idempotency keys: secrets stay out of the store.
var apiKeys = map[string]string{
	"sk_test_alice": "acct_alice",
	"sk_test_bob":   "acct_bob",
}

type accountKey struct{}

// authenticate finds the account of the request's API key; it sits
// outside the idempotency middleware, which reads the account as its
// scope.
func authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		account, known := apiKeys[token]
		if !ok || !known {
			w.Header().Set("WWW-Authenticate", `Bearer realm="payments"`)
			writeError(w, http.StatusUnauthorized, "send Authorization: Bearer sk_test_alice (or sk_test_bob)")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accountKey{}, account)))
	})
}

func accountOf(r *http.Request) string {
	a, _ := r.Context().Value(accountKey{}).(string)
	return a
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
