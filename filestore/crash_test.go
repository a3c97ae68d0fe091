//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemtype"
)

// TestKilledWriters SIGKILLs processes in the middle of their writes, a few
// times over, and then reads the directory: a record is there whole (its
// own key, its own value) or not at all, never torn nor corrupt, and every
// key a writer finished with has its outcome. A killed write leaves at most
// a temporary file, which a sweep removes once stale.
func TestKilledWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	effectsPath := filepath.Join(dir, "effects")
	storeDir := filepath.Join(dir, "store")
	rng := rand.New(rand.NewPCG(1, 2))
	lines := 0
	for round := range 8 {
		p := start(t, "writer", env(envDir, storeDir), env(envEffects, effectsPath), env(envLease, "1m"))
		lines += 5 + round
		waitEffects(t, effectsPath, lines)
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		p.Kill(t)
		lines = len(effects(t, effectsPath))
	}
	s := newStoreIn(t, storeDir, &filestore.Options{SweepInterval: -1, PollInterval: -1})
	ctx := testCtx(t)
	keys := effects(t, effectsPath)
	found := 0
	for i, e := range keys {
		rec, err := s.Get(ctx, e.tag)
		if errors.Is(err, idemtype.ErrNotFound) {
			continue // not written yet, or released
		}
		if err != nil {
			t.Fatalf("Get(%s) after the kills: %v", e.tag, err)
		}
		found++
		switch rec.Status {
		case idemtype.StatusCompleted:
			if !bytes.Equal(rec.Value, writerValue(e.tag)) {
				t.Fatalf("record of %s holds %d bytes of another value", e.tag, len(rec.Value))
			}
		case idemtype.StatusInProgress:
			if len(rec.Value) != 0 {
				t.Fatalf("in-progress record of %s has a value", e.tag)
			}
		}
		// A writer finished with every key but its last: those that were
		// not released (n%3 != 0) are completed.
		next := i+1 < len(keys) && keys[i+1].pid == e.pid
		if next && rec.Status != idemtype.StatusCompleted {
			t.Fatalf("record of %s, which its writer finished, is %v", e.tag, rec.Status)
		}
	}
	if found == 0 {
		t.Fatal("no records written before the kills")
	}
	if err := s.List(ctx, "", func(idemtype.Record) bool { return true }); err != nil {
		t.Fatalf("List after the kills: %v", err)
	}
	// Nothing but temporary files is left over.
	tmps, err := os.ReadDir(filepath.Join(storeDir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tmps {
		if !strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("unexpected file tmp/%s", e.Name())
		}
	}
	t.Logf("%d keys noted, %d records, %d temporary files left by kills", len(keys), found, len(tmps))
}
