//go:build unix

package testchild

import (
	"os"
	"syscall"
)

// resume continues a process that a test may have stopped (SIGSTOP).
func resume(p *os.Process) { _ = p.Signal(syscall.SIGCONT) }
