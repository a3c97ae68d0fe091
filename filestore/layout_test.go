//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/idempotency-go/idempotency/filestore"
)

// New lays out a new directory durably: the FORMAT file written through
// tmp/ (left empty) and fsynced, then the directories that name it and the
// record subdirectories fsynced; opening it again writes and syncs nothing.
func TestLayoutOfANewDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "store")
	for _, c := range []struct {
		name  string
		syncs uint64
	}{
		// The FORMAT file, the store's directory, records/.
		{"New", 3},
		{"Reopened", 0},
	} {
		s := newStoreIn(t, dir, &filestore.Options{SweepInterval: -1, PollInterval: -1})
		if got := s.Stats().Syncs; got != c.syncs {
			t.Errorf("%s: %d fsyncs opening the store, want %d", c.name, got, c.syncs)
		}
		b, err := os.ReadFile(filepath.Join(dir, "FORMAT"))
		if err != nil || string(b) != "idempotency filestore 1\n" {
			t.Fatalf("%s: FORMAT holds %q, %v; want %q", c.name, b, err, "idempotency filestore 1\n")
		}
		if tmp, err := os.ReadDir(filepath.Join(dir, "tmp")); err != nil || len(tmp) != 0 {
			t.Fatalf("%s: tmp/ holds %v, %v; want it empty", c.name, tmp, err)
		}
		if subs, err := os.ReadDir(filepath.Join(dir, "records")); err != nil || len(subs) != 256 {
			t.Fatalf("%s: records/ holds %d entries, %v; want 256 subdirectories", c.name, len(subs), err)
		}
	}
}
