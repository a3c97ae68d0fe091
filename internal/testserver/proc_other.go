//go:build !unix

package testserver

import (
	"errors"
	"os"
	"os/exec"
)

// Test servers run on Unix; elsewhere this package only compiles, and the
// process helpers do what the platform allows.

func ownGroup(*exec.Cmd) {}

func killGroup(pid int) { _ = kill(pid) }

func kill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func exists(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
