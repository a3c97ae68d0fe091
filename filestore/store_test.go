//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testchild"
	"github.com/idempotency-go/idempotency/storetest"
)

func TestMain(m *testing.M) { testchild.Main(m, childEnv, runChild) }

func newStore(t testing.TB, opts *filestore.Options) *filestore.Store {
	t.Helper()
	return newStoreIn(t, t.TempDir(), opts)
}

// newStoreIn opens a store in dir that the test closes.
func newStoreIn(t testing.TB, dir string, opts *filestore.Options) *filestore.Store {
	t.Helper()
	s, err := filestore.New(dir, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) idemtype.Store { return newStore(t, nil) })
}

func TestConformanceClock(t *testing.T) {
	t.Parallel()
	storetest.RunClock(t, func(t *testing.T, now func() time.Time) idemtype.Store {
		return newStore(t, &filestore.Options{Now: now})
	})
}
