package idemnats_test

import (
	"testing"

	"github.com/idempotency-go/idempotency/internal/testchild"
)

func TestMain(m *testing.M) { testchild.Main(m, childEnv, runChild) }
