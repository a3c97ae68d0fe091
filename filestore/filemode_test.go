//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/idempotency-go/idempotency/filestore"
)

// Every file and directory the store creates (layout, FORMAT, lock files,
// records) has Options.FileMode, directories with the matching execute
// bits: at most those bits (the umask may clear some), and always the
// owner's. The default is 0600 and 0700.
func TestFileModes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name          string
		mode          os.FileMode
		file, dirMode fs.FileMode
	}{
		{"Default", 0, 0o600, 0o700},
		{"Group", 0o660, 0o660, 0o770},
		{"GroupRead", 0o640, 0o640, 0o750},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "store")
			s := newStoreIn(t, dir, &filestore.Options{FileMode: c.mode, SweepInterval: -1, PollInterval: -1})
			if _, err := s.Claim(testCtx(t), claimReq("k")); err != nil {
				t.Fatal(err)
			}
			files := 0
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				want, owner := c.file, fs.FileMode(0o600)
				if d.IsDir() {
					want, owner = c.dirMode, 0o700
				} else {
					files++
				}
				if got := info.Mode().Perm(); got&^want != 0 || got&owner != owner {
					t.Errorf("%s: mode %v, want %v less what the umask clears", path, got, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if files < 3 { // FORMAT, a lock file, the record
				t.Fatalf("%d files under %s, want the format file, a lock file and a record", files, dir)
			}
		})
	}
}
