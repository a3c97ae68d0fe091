package memstore_test

import (
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) idemtype.Store {
		s := memstore.New(nil)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestConformanceClock(t *testing.T) {
	t.Parallel()
	storetest.RunClock(t, func(t *testing.T, now func() time.Time) idemtype.Store {
		s := memstore.New(&memstore.Options{Now: now})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
