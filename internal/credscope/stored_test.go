package credscope

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/teststore"
)

const secretKey = "test:scope-secret"

func storedMAC(store idempotency.Store) *Stored[req] {
	return NewStored(idempotency.New(store, nil), secretKey, "test", func(secret []byte) *MAC[req] {
		return New(secret, testParts)
	})
}

// TestStoredSecretMadeOnce: the first use makes a secret of 32 random
// bytes and keeps it in the store without expiry; every Stored over that
// store then makes the same scopes, and the secret is that record's.
func TestStoredSecretMadeOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := teststore.Memory(t)
	r := req{creds: []string{"Bearer a"}}
	one, err := storedMAC(store).MAC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.Get(ctx, secretKey)
	if err != nil {
		t.Fatalf("the secret's record: %v", err)
	}
	if !rec.ExpiresAt.IsZero() {
		t.Fatalf("the secret expires at %v, want never", rec.ExpiresAt)
	}
	var text string
	if err := json.Unmarshal(rec.Value, &text); err != nil {
		t.Fatal(err)
	}
	secret, err := hex.DecodeString(text)
	if err != nil || len(secret) != 32 {
		t.Fatalf("stored secret %q (%v): want 32 bytes in hex", text, err)
	}
	s := storedMAC(store)
	two, err := s.MAC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := two.Scope(r), one.Scope(r); got != want || got != New(secret, testParts).Scope(r) {
		t.Fatalf("scopes %q and %q; want both under the stored secret", got, want)
	}
	if again, _ := s.MAC(ctx); again != two {
		t.Fatal("a second use made another MAC")
	}
}

// TestStoredSecretRefused: while the store is down, or holds a secret that
// is not one, MAC fails with a typed error and nothing is written; once
// the store is back, the next use succeeds. A secret of MinSecret bytes
// serves, one byte less is refused.
func TestStoredSecretRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("StoreDown", func(t *testing.T) {
		t.Parallel()
		flaky := teststore.Down(teststore.Memory(t))
		s := storedMAC(flaky)
		_, err := s.MAC(ctx)
		if !errors.Is(err, idempotency.ErrStore) || !strings.HasPrefix(err.Error(), "idempotency: test: scope secret: ") {
			t.Fatalf("MAC with the store down: %v; want ErrStore, named", err)
		}
		flaky.Down.Store(false)
		if m, err := s.MAC(ctx); err != nil || m == nil {
			t.Fatalf("MAC with the store back: %v", err)
		}
	})
	for _, tc := range []struct {
		name   string
		stored string // the record's value
		ok     bool
	}{
		{"NotHex", `"zz"`, false},
		{"OneByteShort", `"` + strings.Repeat("ab", MinSecret-1) + `"`, false},
		{"Shortest", `"` + strings.Repeat("ab", MinSecret) + `"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := teststore.Memory(t)
			c, err := store.Claim(ctx, idempotency.ClaimRequest{Key: secretKey, Lease: time.Minute})
			if err != nil || !c.Acquired {
				t.Fatalf("claim: %v, %+v", err, c)
			}
			if err := store.Complete(ctx, secretKey, c.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: []byte(tc.stored)}); err != nil {
				t.Fatal(err)
			}
			m, err := storedMAC(store).MAC(ctx)
			switch {
			case tc.ok && (err != nil || m == nil):
				t.Fatalf("MAC: %v; want the stored secret used", err)
			case !tc.ok && (!errors.Is(err, idempotency.ErrCorrupt) || m != nil ||
				!strings.HasPrefix(err.Error(), "idempotency: test: stored scope secret: ")):
				t.Fatalf("MAC: %v, %v; want ErrCorrupt, named", m, err)
			}
			if rec, err := store.Get(ctx, secretKey); err != nil || string(rec.Value) != tc.stored {
				t.Fatalf("the record after: %q, %v; want it unchanged", rec.Value, err)
			}
		})
	}
}

// TestStoredSecretTakenOver: the secret is made under a guard that takes
// over a lapsed claim of it even when the caller's guard does not
// (NoTakeover), since making another secret repeats no effect.
func TestStoredSecretTakenOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := teststore.Memory(t)
	if c, err := store.Claim(ctx, idempotency.ClaimRequest{Key: secretKey, Lease: time.Millisecond}); err != nil || !c.Acquired {
		t.Fatalf("claim: %v, %+v", err, c)
	}
	g := idempotency.New(store, &idempotency.Config{NoTakeover: true, OnDuplicate: idempotency.Reject})
	s := NewStored(g, secretKey, "test", func(secret []byte) *MAC[req] { return New(secret, testParts) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, err := s.MAC(ctx)
		if err == nil && m != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no secret after 20s: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}
