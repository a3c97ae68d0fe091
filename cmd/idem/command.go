package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"
	"time"
)

const (
	// stopGrace is how long a command stopped for a lost lease has between
	// SIGTERM and being killed, and how long its process tree then has to
	// die before its process group gets SIGKILL from idem itself.
	stopGrace = 10 * time.Second
	// pipeGrace is how long idem waits, once the command exited, for
	// processes it left in the background to close its output.
	pipeGrace = 2 * time.Second
)

// execute runs argv in a process group of its own (see startCommand),
// passing its output through while capturing the first limit bytes of each
// stream, and returns its exit code. Signals idem gets meanwhile are
// forwarded to the group; when ctx ends (the lease is lost) the group gets
// SIGTERM, and after stopGrace the command's whole process tree is killed.
// forwarded is the last signal forwarded, if any.
func (a *app) execute(ctx context.Context, argv []string, limit int) (res runResult, forwarded syscall.Signal, err error) {
	stdout := &capture{out: a.stdout, limit: limit}
	stderr := &capture{out: a.stderr, limit: limit}
	c, err := startCommand(argv, a.stdin, stdout, stderr)
	if err != nil {
		return runResult{}, 0, err
	}
	a.sig.attach(c.pid())
	exited := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		c.signal(syscall.SIGTERM)
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-exited:
			return
		case <-t.C:
		}
		c.killTree()
		t.Reset(stopGrace)
		select {
		case <-exited:
		case <-t.C:
			c.signal(syscall.SIGKILL)
		}
	}()
	werr := c.wait()
	close(exited)
	<-stopped
	forwarded = a.sig.detach()

	res = runResult{
		Format: resultFormat,
		Stdout: stdout.buf, StdoutTruncated: stdout.truncated,
		Stderr: stderr.buf, StderrTruncated: stderr.truncated,
	}
	code, ok := c.exitCode()
	if !ok {
		return res, forwarded, fmt.Errorf("idempotency: %s: unknown wait status: %v", argv[0], werr)
	}
	res.Exit = code
	if ctx.Err() != nil {
		return res, forwarded, context.Cause(ctx)
	}
	return res, forwarded, nil
}

// exitCodeOf is a finished process's exit code, 128+n when signal n
// killed it.
func exitCodeOf(cmd *exec.Cmd) (int, bool) {
	if cmd.ProcessState == nil {
		return 0, false
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return 0, false
	case ws.Signaled():
		return exitSignal + int(ws.Signal()), true
	}
	return ws.ExitStatus(), true
}

// startError explains why a command could not be started, with the
// shell's exit codes.
func startError(name string, err error) error {
	code := exitCannotExec
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		code = exitNotFound
	}
	return &codeError{code: code, err: fmt.Errorf("idempotency: cannot run %s: %w", name, err)}
}
