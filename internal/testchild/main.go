package testchild

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main is TestMain for a package whose tests start children: when the
// environment variable env holds a role, this process is a child and
// exits with child(role); otherwise it runs the tests and fails them if a
// goroutine outlives them (goleak).
func Main(m *testing.M, env string, child func(role string) int) {
	Child(env, child)
	goleak.VerifyTestMain(m)
}

// Child exits with child(role) when the environment variable env holds a
// role, and returns otherwise: the start of a TestMain that has more to
// set up than [Main] does.
func Child(env string, child func(role string) int) {
	if role := os.Getenv(env); role != "" {
		os.Exit(child(role))
	}
}

// Cleanups collects a child's deferred closes where test helpers expect
// a testing.T's Cleanup: a child has no testing.T.
type Cleanups []func()

// Cleanup registers f.
func (c *Cleanups) Cleanup(f func()) { *c = append(*c, f) }

// Run runs the registered functions, the last first.
func (c Cleanups) Run() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}
