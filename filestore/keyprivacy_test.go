//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemtype"
)

// Keys carry what callers put in them (card numbers, e-mails); a guard's
// logs show a keyed digest unless Config.LogRawKeys. The store's errors,
// which the guard logs and returns, must not show the key either: they
// name the record by its file, and keep the key in OpError.Key and
// CorruptError.Key for code that asks.
const secretKey = "charge:card=4111111111111111"

func TestErrorsDoNotShowKeys(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var logs bytes.Buffer
	cfg := &idempotency.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}

	t.Run("Corrupt", func(t *testing.T) {
		dir := t.TempDir()
		s := newStoreIn(t, dir, &filestore.Options{SweepInterval: -1, PollInterval: -1})
		file := recordPath(dir, secretKey)
		if err := os.WriteFile(file, []byte("not a record"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(ctx, secretKey)
		var ce *idemtype.CorruptError
		if !errors.As(err, &ce) || ce.Key != secretKey || ce.Path != file {
			t.Fatalf("Get of a corrupt record: %#v, want a CorruptError of the key and its file", err)
		}
		ran := false
		_, err = idempotency.Do(ctx, idempotency.New(s, cfg), secretKey, func(context.Context) (int, error) { ran = true; return 1, nil })
		if ran || !errors.Is(err, idemtype.ErrCorrupt) {
			t.Fatalf("Do over a corrupt record = %v (ran %v)", err, ran)
		}
		for what, text := range map[string]string{"Get's error": ce.Error(), "the logs": logs.String()} {
			if strings.Contains(text, "4111") {
				t.Errorf("%s show the key: %s", what, text)
			}
		}
		if !strings.Contains(ce.Error(), file) {
			t.Errorf("CorruptError %q does not name the file %s", ce.Error(), file)
		}
	})
	t.Run("BrokenDirectory", func(t *testing.T) {
		dir := t.TempDir()
		s := newStoreIn(t, dir, &filestore.Options{SweepInterval: -1, PollInterval: -1})
		sub := filepath.Dir(recordPath(dir, secretKey))
		if err := os.RemoveAll(sub); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sub, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, cerr := s.Claim(ctx, claimReq(secretKey))
		var oe *idemtype.OpError
		if !errors.As(cerr, &oe) || oe.Key != secretKey {
			t.Fatalf("Claim over a broken directory: %#v, want an OpError of the key", cerr)
		}
		_, err := idempotency.Do(ctx, idempotency.New(s, cfg), secretKey, func(context.Context) (int, error) { return 1, nil })
		if !errors.Is(err, idempotency.ErrStore) {
			t.Fatalf("Do over a broken directory = %v", err)
		}
		for what, text := range map[string]string{"Claim's error": cerr.Error(), "the logs": logs.String()} {
			if strings.Contains(text, "4111") {
				t.Errorf("%s show the key: %s", what, text)
			}
		}
	})
}
