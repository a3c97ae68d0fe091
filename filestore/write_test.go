//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
)

// TestWriteFailureLeavesNoRecord runs a claim whose record file cannot be
// written whole (a child process under a file size limit, so that the
// write fails with EFBIG): the claim fails with the write's error, and
// neither a torn record nor the temporary file is left behind.
func TestWriteFailureLeavesNoRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newStoreIn(t, dir, &filestore.Options{SweepInterval: -1, PollInterval: -1})
	res := start(t, "bigwrite", env(envDir, dir), env(envKey, "big"), env(envLease, "1m")).wait(t)
	if !strings.Contains(res.Err, "idempotency: filestore: claim: ") || !strings.Contains(res.Err, "write record: ") ||
		!strings.Contains(res.Err, "file too large") {
		t.Errorf("claim of a record over the file size limit: error %q, want the claim's write error (file too large)", res.Err)
	}
	if res.Value != "claimed big/small" {
		t.Errorf("claim after the failed one: %q, want it claimed", res.Value)
	}
	if _, err := os.Stat(recordPath(dir, "big")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record file of the failed claim: %v, want none", err)
	}
	if _, err := s.Get(testCtx(t), "big"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Errorf("Get of the failed claim's key: %v, want ErrNotFound", err)
	}
	if tmp, err := os.ReadDir(filepath.Join(dir, "tmp")); err != nil || len(tmp) != 0 {
		t.Errorf("tmp/ holds %v, %v; want it empty", tmp, err)
	}
}
