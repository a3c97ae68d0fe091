package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/memstore"
)

func ExampleDo() {
	g := idempotency.New(nil, nil) // in-memory store
	defer g.Close()
	charges := 0
	charge := func(ctx context.Context) (string, error) {
		charges++
		return "ch_1", nil
	}
	for range 3 { // a client retrying
		id, err := idempotency.Do(context.Background(), g, "invoice:42", charge)
		fmt.Println(id, err)
	}
	fmt.Println("charges:", charges)
	// Output:
	// ch_1 <nil>
	// ch_1 <nil>
	// ch_1 <nil>
	// charges: 1
}

func ExampleWrap() {
	g := idempotency.New(nil, nil)
	defer g.Close()
	type Email struct{ To, Subject string }
	sent := 0
	send := idempotency.Wrap(g, "send-email", func(ctx context.Context, e Email) (bool, error) {
		sent++
		return true, nil
	})
	ctx := context.Background()
	send(ctx, Email{"a@example.com", "Welcome"})
	send(ctx, Email{"a@example.com", "Welcome"}) // same arguments: not sent again
	send(ctx, Email{"b@example.com", "Welcome"})
	fmt.Println("sent:", sent)
	// Output: sent: 2
}

func ExampleWrapKeyed() {
	g := idempotency.New(nil, nil)
	defer g.Close()
	type Event struct {
		ID     string
		Amount int
	}
	handle := idempotency.WrapKeyed(g, func(e Event) string { return "webhook:" + e.ID },
		func(ctx context.Context, e Event) (int, error) { return e.Amount, nil })
	ctx := context.Background()
	first, _ := handle(ctx, Event{"evt_1", 100})
	replayed, _ := handle(ctx, Event{"evt_1", 100}) // the provider redelivers
	fmt.Println(first, replayed)
	// Output: 100 100
}

func ExampleWithFingerprint() {
	g := idempotency.New(nil, nil)
	defer g.Close()
	create := func(body string) error {
		_, err := idempotency.Do(context.Background(), g, "client-key-1", func(ctx context.Context) (string, error) {
			return "created", nil
		}, idempotency.WithFingerprint(body))
		return err
	}
	fmt.Println(create(`{"amount":100}`))
	fmt.Println(create(`{"amount":100}`))
	fmt.Println(errors.Is(create(`{"amount":999}`), idempotency.ErrKeyReused))
	// Output:
	// <nil>
	// <nil>
	// true
}

func ExampleConfig_remember() {
	errDeclined := errors.New("card declined")
	g := idempotency.New(nil, &idempotency.Config{
		OnFailure:   idempotency.Remember,
		KnownErrors: []error{errDeclined},
	})
	defer g.Close()
	charge := func(ctx context.Context) (string, error) { return "", fmt.Errorf("charge: %w", errDeclined) }
	_, err := idempotency.Do(context.Background(), g, "invoice:7", charge)
	fmt.Println(err)
	_, err = idempotency.Do(context.Background(), g, "invoice:7", charge) // replayed, not run
	fmt.Println(err, errors.Is(err, idempotency.ErrFailed), errors.Is(err, errDeclined))
	// Output:
	// charge: card declined
	// charge: card declined true true
}

// DeclineError is an error type whose data a remembered failure keeps.
type DeclineError struct {
	Code string
}

func (e *DeclineError) Error() string { return "declined: " + e.Code }

func ExampleConfig_knownErrorTypes() {
	g := idempotency.New(nil, &idempotency.Config{
		OnFailure:       idempotency.Remember,
		KnownErrorTypes: []error{(*DeclineError)(nil)},
	})
	defer g.Close()
	charge := func(ctx context.Context) (string, error) { return "", &DeclineError{Code: "do_not_honor"} }
	_, _ = idempotency.Do(context.Background(), g, "invoice:8", charge)
	_, err := idempotency.Do(context.Background(), g, "invoice:8", charge) // replayed from the store
	var de *DeclineError
	fmt.Println(errors.As(err, &de), de.Code)
	// Output:
	// true do_not_honor
}

func ExampleKey() {
	k, _ := idempotency.Key("create-invoice", map[string]any{"customer": "alice", "amount": 4200})
	fmt.Println(k)
	// Output: create-invoice:-FuNJwMWQbFWkr4vY0vtVrJsWUzqy3_B9UVEUrEnHqY
}

func ExampleConfig_Validate() {
	cfg := &idempotency.Config{TTL: 10 * time.Second, Lease: time.Minute}
	err := cfg.Validate()
	fmt.Println(errors.Is(err, idempotency.ErrInvalidConfig))
	fmt.Println(err)
	// Output:
	// true
	// idempotency: invalid config: TTL 10s is shorter than Lease 1m0s: a record would expire while its claim is live, and a second caller could run fn beside the first
}

func ExampleKey_embedded() {
	type Charge struct {
		time.Time // embedded: the struct is still all its fields
		Amount    int
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a, _ := idempotency.Key("charge", Charge{at, 100})
	b, _ := idempotency.Key("charge", Charge{at, 999})
	c, _ := idempotency.Key("charge", Charge{at.In(time.FixedZone("CET", 3600)), 100}) // the same instant
	fmt.Println(a == b, a == c)

	_, err := idempotency.Key("charge", Charge{at, 100}, func() {})
	fmt.Println(err)
	// Output:
	// false true
	// idempotency: invalid key: Key("charge", ...): argument 1 (func()): cannot encode a value of type func()
}

func ExampleKeyDigest() {
	secret := []byte("shared by every process") // Config.LogKeySecret
	// The log lines of one key carry key_hmac=<this>, not the key.
	fmt.Println(idempotency.KeyDigest(secret, "invoice:42"))
	// Output: ESw9-golX6wO2ejrfmI-aQ
}

// A guard with a local cache answers a recent duplicate from memory. Here
// the store is deleted from directly, as another process's Forget would:
// the guard goes on replaying until its entry is MaxAge old, while its own
// Forget takes effect at once.
func ExampleLocalCacheConfig() {
	store := memstore.New(nil)
	defer store.Close()
	g := idempotency.New(store, &idempotency.Config{
		LocalCache: idempotency.LocalCacheConfig{MaxAge: time.Minute, MaxEntries: 100_000},
	})
	ctx := context.Background()
	runs := 0
	send := func(context.Context) (int, error) { runs++; return runs, nil }

	idempotency.Do(ctx, g, "digest:2026-01-01", send)
	_ = store.Delete(ctx, "digest:2026-01-01") // elsewhere
	n, _ := idempotency.Do(ctx, g, "digest:2026-01-01", send)
	fmt.Println("after a delete elsewhere:", n)

	_ = g.Forget(ctx, "digest:2026-01-01")
	n, _ = idempotency.Do(ctx, g, "digest:2026-01-01", send)
	fmt.Println("after g.Forget:", n)
	// Output:
	// after a delete elsewhere: 1
	// after g.Forget: 2
}

// order holds a slice, so each duplicate would get its own decoded copy;
// its callers only read it, and say so by implementing SharedResult.
type order struct {
	ID    string
	Items []string
}

func (order) SharedResult() {}

func ExampleSharedResult() {
	g := idempotency.New(nil, nil)
	defer g.Close()
	place := func(context.Context) (order, error) { return order{"o_1", []string{"book", "pen"}}, nil }
	first, _ := idempotency.Do(context.Background(), g, "order:7", place)
	a, _ := idempotency.Do(context.Background(), g, "order:7", place)
	b, _ := idempotency.Do(context.Background(), g, "order:7", place)
	fmt.Println(first.ID, a.Items, &a.Items[0] == &b.Items[0])
	// Output: o_1 [book pen] true
}
