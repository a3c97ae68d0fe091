//go:build !unix

package testchild

import "os"

// resume does nothing where processes cannot be stopped by signal.
func resume(*os.Process) {}
