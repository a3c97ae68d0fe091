package idemhttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

func Example() {
	g := idempotency.New(nil, nil) // in-memory store
	defer g.Close()

	payments := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /payments", func(w http.ResponseWriter, r *http.Request) {
		payments++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"pay_%d"}`+"\n", payments)
	})
	handler := idemhttp.New(g, &idemhttp.Config{Required: true})(mux)

	post := func(key, body string) {
		r := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(body))
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		// Keys are per client: by default the client is told apart by
		// its credentials.
		r.Header.Set("Authorization", "Bearer sk_live_alice")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Printf("%d replayed=%q %s", w.Code, w.Header().Get("Idempotent-Replayed"), w.Body)
	}
	post(`"order-42"`, `{"amount":100}`) // runs
	post(`"order-42"`, `{"amount":100}`) // a retry: replayed
	post(`"order-42"`, `{"amount":999}`) // same key, other request
	post(``, `{"amount":100}`)           // no key
	fmt.Println("payments made:", payments)
	// Output:
	// 201 replayed="" {"id":"pay_1"}
	// 201 replayed="true" {"id":"pay_1"}
	// 422 replayed="" {"type":"https://idempotency-go.dev/problems/key-reused","title":"Idempotency-Key reused","status":422,"detail":"This Idempotency-Key was already used with a different request (method, path or body)."}
	// 400 replayed="" {"type":"https://idempotency-go.dev/problems/missing-key","title":"Idempotency-Key required","status":400,"detail":"This request requires an Idempotency-Key header."}
	// payments made: 1
}

// Keys are per client: Scope names the authenticated client, so that the
// same key from two clients runs twice and each gets its own response.
func ExampleConfig_scope() {
	g := idempotency.New(nil, nil)
	defer g.Close()

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "charged %s\n", r.Header.Get("X-Account"))
	})
	handler := idemhttp.New(g, &idemhttp.Config{
		// In a real service: the account the authentication middleware
		// (placed outside this one) found for the API key.
		Scope: func(r *http.Request) string { return r.Header.Get("X-Account") },
	})(h)

	for _, account := range []string{"alice", "bob", "alice"} {
		r := httptest.NewRequest(http.MethodPost, "/charges", nil)
		r.Header.Set("Idempotency-Key", `"k1"`)
		r.Header.Set("X-Account", account)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Printf("%s replayed=%q\n", strings.TrimSpace(w.Body.String()), w.Header().Get("Idempotent-Replayed"))
	}
	// Output:
	// charged alice replayed=""
	// charged bob replayed=""
	// charged alice replayed="true"
}

func ExampleParseKey() {
	for _, field := range []string{`"8e03978e-40d5"`, `8e03978e-40d5`, `"a", "b"`} {
		key, err := idemhttp.ParseKey(field)
		fmt.Printf("%q %v\n", key, err)
	}
	// Output:
	// "8e03978e-40d5" <nil>
	// "8e03978e-40d5" <nil>
	// "" idempotency: idemhttp: invalid Idempotency-Key: more than one key
}

// A handler vetoes keeping a response that is not its final word: here a
// declined card the client may retry under the same key once the bank
// answers.
func ExampleDiscard() {
	g := idempotency.New(nil, nil)
	defer g.Close()

	calls := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			idemhttp.Discard(r) // the bank timed out: not final
			http.Error(w, "bank unavailable, retry", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintln(w, "charged")
	})
	handler := idemhttp.New(g, nil)(h)
	for range 3 {
		r := httptest.NewRequest(http.MethodPost, "/charges", nil)
		r.Header.Set("Idempotency-Key", `"charge-7"`)
		r.Header.Set("Authorization", "Bearer sk_live_alice")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Printf("%d replayed=%q %s", w.Code, w.Header().Get("Idempotent-Replayed"), w.Body)
	}
	// Output:
	// 400 replayed="" bank unavailable, retry
	// 201 replayed="" charged
	// 201 replayed="true" charged
}

// ErrorHandler writes the middleware's errors in the API's own format.
func ExampleConfig_errorHandler() {
	g := idempotency.New(nil, nil)
	defer g.Close()

	handler := idemhttp.New(g, &idemhttp.Config{
		Required: true,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, e *idemhttp.Error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(e.Status)
			fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`+"\n", e.Problem, e.Detail)
		},
	})(http.NotFoundHandler())

	r := httptest.NewRequest(http.MethodPost, "/charges", nil)
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body)
	// Output:
	// 400 {"error":{"code":"missing-key","message":"This request requires an Idempotency-Key header."}}
}
