package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs the service as main does, on a free loopback port, and
// returns its base URL.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw)
		pw.CloseWithError(err)
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("service did not start: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	url := strings.TrimSpace(line[strings.Index(line, "http://"):])
	return url
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// curl sends what the package documentation's curl commands send.
func curl(t *testing.T, c *http.Client, method, url, apiKey, idemKey, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

func TestDocumentedCurls(t *testing.T) {
	t.Parallel()
	base := start(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	const body = `{"amount": 4200, "currency": "EUR"}`

	// First call: a payment is made.
	first := curl(t, c, "POST", base+"/payments", "sk_test_alice", `"order-1001"`, body)
	var p Payment
	if err := json.Unmarshal(first.body, &p); err != nil || first.status != http.StatusCreated {
		t.Fatalf("first: %d %s (%v)", first.status, first.body, err)
	}
	if p.Amount != 4200 || p.Currency != "EUR" || p.Account != "acct_alice" || first.header.Get("Location") != "/payments/"+p.ID {
		t.Fatalf("payment %+v, Location %q", p, first.header.Get("Location"))
	}

	// Retry with the same key: replayed, byte for byte.
	retry := curl(t, c, "POST", base+"/payments", "sk_test_alice", `"order-1001"`, body)
	if retry.status != first.status || !bytes.Equal(retry.body, first.body) || retry.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s replayed=%q", retry.status, retry.body, retry.header.Get("Idempotent-Replayed"))
	}

	// Changed body under the same key: 422 problem.
	changed := curl(t, c, "POST", base+"/payments", "sk_test_alice", `"order-1001"`, `{"amount": 9900, "currency": "EUR"}`)
	if changed.status != http.StatusUnprocessableEntity || changed.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("changed body: %d %s", changed.status, changed.body)
	}

	// The same key from another client is its own payment.
	bob := curl(t, c, "POST", base+"/payments", "sk_test_bob", `"order-1001"`, body)
	var pb Payment
	if err := json.Unmarshal(bob.body, &pb); err != nil || bob.status != http.StatusCreated || pb.ID == p.ID || pb.Account != "acct_bob" {
		t.Fatalf("bob: %d %s", bob.status, bob.body)
	}

	// No key: 400, and no payment.
	if r := curl(t, c, "POST", base+"/payments", "sk_test_alice", "", body); r.status != http.StatusBadRequest {
		t.Fatalf("no key: %d %s", r.status, r.body)
	}

	// Alice has exactly one payment.
	var list []Payment
	r := curl(t, c, "GET", base+"/payments", "sk_test_alice", "", "")
	if err := json.Unmarshal(r.body, &list); err != nil || len(list) != 1 || list[0].ID != p.ID {
		t.Fatalf("alice's payments: %s", r.body)
	}
	if r := curl(t, c, "GET", base+"/payments/"+p.ID, "sk_test_alice", "", ""); r.status != http.StatusOK {
		t.Fatalf("GET payment: %d", r.status)
	}
	if r := curl(t, c, "GET", base+"/payments/"+p.ID, "sk_test_bob", "", ""); r.status != http.StatusNotFound {
		t.Fatalf("bob sees alice's payment: %d", r.status)
	}
}

func TestConcurrentRetriesMakeOnePayment(t *testing.T) {
	t.Parallel()
	base := start(t, "-delay", "200ms")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	const n = 20
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- curl(t, c, "POST", base+"/payments", "sk_test_alice", `"order-7"`, `{"amount": 100, "currency": "USD"}`).status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusCreated && s != http.StatusConflict {
			t.Fatalf("status %d", s)
		}
	}
	var list []Payment
	r := curl(t, c, "GET", base+"/payments", "sk_test_alice", "", "")
	if err := json.Unmarshal(r.body, &list); err != nil || len(list) != 1 {
		t.Fatalf("payments after %d concurrent retries: %s", n, r.body)
	}
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	base := start(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	r := curl(t, &http.Client{Transport: tr}, "POST", base+"/payments", "sk_live_unknown", `"k"`, `{}`)
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("status %d, WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
	}
}
