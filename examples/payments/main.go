// Command payments is a small payments API that is safe to retry: every
// POST /payments carries an Idempotency-Key, and a retried request gets
// the first response again instead of charging twice.
//
//	go run ./examples/payments              # listens on 127.0.0.1:8080
//	go run ./examples/payments -delay 10s   # a slow provider: try a retry while it runs
//
// Create a payment (Authorization names the client; the demo knows the API
// keys sk_test_alice and sk_test_bob):
//
//	curl -i http://127.0.0.1:8080/payments \
//	  -H 'Authorization: Bearer sk_test_alice' \
//	  -H 'Idempotency-Key: "order-1001"' \
//	  -H 'Content-Type: application/json' \
//	  -d '{"amount": 4200, "currency": "EUR"}'
//
// 201 Created with the payment. Run the same command again: the same
// payment comes back, byte for byte, with "Idempotent-Replayed: true", and
// no second payment is made. Change the body under the same key:
//
//	curl -i http://127.0.0.1:8080/payments \
//	  -H 'Authorization: Bearer sk_test_alice' \
//	  -H 'Idempotency-Key: "order-1001"' \
//	  -d '{"amount": 9900, "currency": "EUR"}'
//
// 422 with an application/problem+json body: the key belongs to another
// request. The same key from another client (sk_test_bob) is a new
// payment; a request without the header gets 400; one sent while the
// first still runs (-delay) gets 409. List the payments made:
//
//	curl http://127.0.0.1:8080/payments -H 'Authorization: Bearer sk_test_alice'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "payments:", err)
		os.Exit(1)
	}
}

// run serves the API until ctx ends. It prints the address it listens on.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("payments", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	delay := fs.Duration("delay", 0, "how long the payment provider takes per payment")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long responses are kept for retries")
	if err := fs.Parse(args); err != nil {
		return err
	}

	g := idempotency.New(nil, &idempotency.Config{TTL: *ttl}) // in-memory store
	defer g.Close()
	api := newAPI(*delay)
	guard := idemhttp.New(g, &idemhttp.Config{
		Required: true,
		Scope:    accountOf, // one client's keys never touch another's
	})
	mux := http.NewServeMux()
	mux.Handle("POST /payments", guard(http.HandlerFunc(api.create)))
	mux.HandleFunc("GET /payments", api.list)
	mux.HandleFunc("GET /payments/{id}", api.get)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: authenticate(mux), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "payments API listening on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
