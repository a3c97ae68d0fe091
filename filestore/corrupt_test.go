//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
)

// recordPath is where the documented layout puts key's record.
func recordPath(dir, key string) string {
	h := sha256.Sum256([]byte(key))
	return filepath.Join(dir, "records", hex.EncodeToString(h[:1]), base64.RawURLEncoding.EncodeToString(h[:]))
}

// completed stores a completed record for key through the guard.
func completed(t *testing.T, g *idempotency.Guard, key, value string) {
	t.Helper()
	v, err := idempotency.Do(testCtx(t), g, key, func(context.Context) (string, error) { return value, nil })
	if err != nil || v != value {
		t.Fatalf("Do(%q) = %q, %v", key, v, err)
	}
}

// TestCorruptRecords damages record files in the ways a disk or a person
// can: every one is reported as ErrCorrupt by the store and fails the
// guard closed (ErrStore, fn not run), never as a missing record nor as
// another key's result; Delete clears it.
func TestCorruptRecords(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		damage func(t *testing.T, dir, path string)
	}{
		{"FlippedValueByte", func(t *testing.T, _, path string) {
			b := readFile(t, path)
			b[len(b)-6] ^= 0x01
			writeFile(t, path, b)
		}},
		{"FlippedChecksum", func(t *testing.T, _, path string) {
			b := readFile(t, path)
			b[len(b)-1] ^= 0x80
			writeFile(t, path, b)
		}},
		{"Torn", func(t *testing.T, _, path string) {
			b := readFile(t, path)
			writeFile(t, path, b[:len(b)/2])
		}},
		{"Empty", func(t *testing.T, _, path string) { writeFile(t, path, nil) }},
		{"HeaderOnly", func(t *testing.T, _, path string) { writeFile(t, path, readFile(t, path)[:60]) }},
		{"Garbage", func(t *testing.T, _, path string) { writeFile(t, path, []byte("{\"status\":\"completed\"}")) }},
		{"AnotherKeysFile", func(t *testing.T, dir, path string) {
			writeFile(t, path, readFile(t, recordPath(dir, "other")))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := filestore.New(dir, &filestore.Options{SweepInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			g := idempotency.New(s, nil)
			completed(t, g, "key", "mine")
			completed(t, g, "other", "theirs")
			path := recordPath(dir, "key")
			c.damage(t, dir, path)

			ctx := testCtx(t)
			// Every operation reports the one error shape, labelled with
			// what it was doing.
			for op, call := range map[string]func() error{
				"get": func() error { _, err := s.Get(ctx, "key"); return err },
				"claim": func() error {
					_, err := s.Claim(ctx, idempotency.ClaimRequest{Key: "key", Lease: time.Minute, Takeover: true})
					return err
				},
				"complete": func() error {
					return s.Complete(ctx, "key", 1, idempotency.Outcome{Status: idempotency.StatusCompleted})
				},
				"extend":  func() error { return s.Extend(ctx, "key", 1, time.Minute) },
				"release": func() error { return s.Release(ctx, "key", 1) },
			} {
				err := call()
				var ce *filestore.CorruptError
				if !errors.Is(err, idempotency.ErrCorrupt) || !errors.As(err, &ce) || ce.Path != path ||
					ce.Store != "filestore" || ce.Op != op || ce.Key != "key" {
					t.Fatalf("%s of a damaged record: %#v, want a CorruptError of %s on %s", op, err, op, path)
				}
				if msg := err.Error(); !strings.HasPrefix(msg, `idempotency: filestore: `+op+` "key": corrupt record `+path+": ") {
					t.Fatalf("%s of a damaged record: message %q", op, msg)
				}
			}
			ran := false
			v, err := idempotency.Do(ctx, g, "key", func(context.Context) (string, error) { ran = true; return "again", nil })
			if !errors.Is(err, idempotency.ErrStore) || !errors.Is(err, idempotency.ErrCorrupt) || ran || v != "" {
				t.Fatalf("Do over a damaged record = %q, %v (ran %v); want ErrStore wrapping ErrCorrupt, fn not run", v, err, ran)
			}
			var listed []string
			err = s.List(ctx, "", func(r idempotency.Record) bool { listed = append(listed, r.Key); return true })
			var ce *filestore.CorruptError
			if !errors.As(err, &ce) || ce.Op != "list" || ce.Path != path || len(listed) != 1 || listed[0] != "other" {
				t.Fatalf("List = %q, %v; want the intact record and a CorruptError of the list", listed, err)
			}
			if n, err := s.Sweep(ctx); err != nil || n != 0 {
				t.Fatalf("Sweep = %d, %v; want the damaged file left alone", n, err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("damaged file gone after Sweep: %v", err)
			}

			if err := g.Forget(ctx, "key"); err != nil {
				t.Fatalf("Forget a damaged record: %v", err)
			}
			completed(t, g, "key", "again")
			if v, err := idempotency.Do(ctx, g, "other", func(context.Context) (string, error) { return "", errors.New("ran") }); err != nil || v != "theirs" {
				t.Fatalf("other key = %q, %v", v, err)
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSanitisedNamesDoNotCollide is the original's flaw: its file store
// let "a/b" and "a_b" share a file. Here each key gets its own result.
func TestSanitisedNamesDoNotCollide(t *testing.T) {
	t.Parallel()
	g := idempotency.New(newStore(t, nil), nil)
	keys := []string{"a/b", "a_b", "a\\b", "a:b", "a.b", "A/B", "../a/b", "a/b\x00"}
	for _, k := range keys {
		completed(t, g, k, "value of "+k)
	}
	for _, k := range keys {
		v, err := idempotency.Do(testCtx(t), g, k, func(context.Context) (string, error) { return "", errors.New("ran again") })
		if err != nil || v != "value of "+k {
			t.Fatalf("Do(%q) = %q, %v; want its own value", k, v, err)
		}
	}
}
