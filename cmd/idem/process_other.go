//go:build !unix

package main

import (
	"io"
	"os"
	"os/exec"
	"syscall"
)

// Outside Unix there are no process groups to signal and no reaper: the
// command runs as idem's direct child, a stop kills that child only, and a
// command whose idem was killed runs on, with whatever it started.

type running struct{ cmd *exec.Cmd }

func startCommand(argv []string, stdin io.Reader, stdout, stderr io.Writer) (*running, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.WaitDelay = pipeGrace
	if err := cmd.Start(); err != nil {
		return nil, startError(argv[0], err)
	}
	return &running{cmd: cmd}, nil
}

func (r *running) pid() int { return r.cmd.Process.Pid }

// signal can only kill: the console delivers Ctrl-C to the command itself.
func (r *running) signal(sig syscall.Signal) { signalGroup(r.pid(), sig) }

func (r *running) killTree() { _ = r.cmd.Process.Kill() }

func (r *running) wait() error { return r.cmd.Wait() }

func (r *running) exitCode() (int, bool) { return exitCodeOf(r.cmd) }

// signalGroup kills pid for SIGKILL; other signals cannot be sent.
func signalGroup(pid int, sig syscall.Signal) {
	if sig != syscall.SIGKILL {
		return
	}
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

func isReaper() bool { return false }

func reap([]string) int { return exitSoftware }
