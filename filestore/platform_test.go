package filestore

import (
	"errors"
	"runtime"
	"testing"

	"github.com/idempotency-go/idempotency/idemtype"
)

// TestPlatform: where there is no flock, New says so in an error matching
// errors.ErrUnsupported, and builds nothing; where there is, it works (the
// rest of the tests).
func TestPlatform(t *testing.T) {
	t.Parallel()
	err := opErr("open", "", errNoFlock("windows"))
	var oe *idemtype.OpError
	if !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &oe) || oe.Op != "open" {
		t.Fatalf("%#v does not match errors.ErrUnsupported as an OpError of open", err)
	}
	if got, want := err.Error(), "idempotency: filestore: open: needs flock(2), which windows does not have; use another store there: unsupported operation"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	dir := t.TempDir() + "/store"
	s, err := New(dir, nil)
	switch runtime.GOOS {
	case "darwin", "dragonfly", "freebsd", "linux", "netbsd", "openbsd", "android", "ios":
		if err != nil {
			t.Fatalf("New on %s: %v", runtime.GOOS, err)
		}
		_ = s.Close()
	default:
		if !errors.Is(err, errors.ErrUnsupported) || s != nil {
			t.Fatalf("New on %s = %v, %v; want errors.ErrUnsupported", runtime.GOOS, s, err)
		}
	}
}
