//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemtype"
)

// TestErrorsNameTheOperation breaks the directory a key's record lives in
// (a file where the directory was) and checks that every operation that
// then fails says which operation on which key, and keeps the cause.
func TestErrorsNameTheOperation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newStoreIn(t, dir, &filestore.Options{SweepInterval: -1, PollInterval: -1})
	ctx := testCtx(t)
	const key = "order-42"
	c, err := s.Claim(ctx, claimReq(key))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(key))
	sub := filepath.Join(dir, "records", hex.EncodeToString(h[:1]))
	if err := os.RemoveAll(sub); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sub, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tok := c.Record.Token
	for _, op := range []struct {
		name, key string
		call      func() error
	}{
		{"claim", key, func() error { _, err := s.Claim(ctx, claimReq(key)); return err }},
		{"extend", key, func() error { return s.Extend(ctx, key, tok, time.Minute) }},
		{"complete", key, func() error {
			return s.Complete(ctx, key, tok, idemtype.Outcome{Status: idemtype.StatusCompleted})
		}},
		{"release", key, func() error { return s.Release(ctx, key, tok) }},
		{"get", key, func() error { _, err := s.Get(ctx, key); return err }},
		{"delete", key, func() error { return s.Delete(ctx, key) }},
		{"list", "", func() error { return s.List(ctx, "", func(idemtype.Record) bool { return true }) }},
		{"sweep", "", func() error { _, err := s.Sweep(ctx); return err }},
	} {
		err := op.call()
		var oe *idemtype.OpError
		if !errors.As(err, &oe) || oe.Store != "filestore" || oe.Op != op.name || oe.Key != op.key || !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("%s over a broken directory: %#v; want an OpError of %s on %q caused by ENOTDIR", op.name, err, op.name, op.key)
			continue
		}
		want := "idempotency: filestore: " + op.name
		if op.key != "" {
			want += ` "` + op.key + `"`
		}
		if msg := err.Error(); !strings.HasPrefix(msg, want+": ") {
			t.Errorf("%s: message %q, want it to start %q", op.name, msg, want)
		}
	}
	// The guard reports the claim's failure as a store error and runs
	// nothing.
	ran := false
	_, err = idempotency.Do(ctx, idempotency.New(s, nil), key, func(context.Context) (int, error) { ran = true; return 0, nil })
	if !errors.Is(err, idempotency.ErrStore) || !errors.Is(err, syscall.ENOTDIR) || ran {
		t.Fatalf("Do over a broken directory = %v (ran %v)", err, ran)
	}
}
