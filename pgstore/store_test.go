package pgstore_test

import (
	"testing"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	pool := newPool(t, dsn)
	storetest.Run(t, func(t *testing.T) idemtype.Store { return newStore(t, pool, nil) })
}
