package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

const (
	// stopGrace is how long a command stopped for a lost lease has between
	// SIGTERM and SIGKILL.
	stopGrace = 10 * time.Second
	// pipeGrace is how long idem waits, once the command exited, for
	// processes it left in the background to close its output.
	pipeGrace = 2 * time.Second
)

// execute runs argv in its own process group, passing its output through
// while capturing the first limit bytes of each stream, and returns its
// exit code. Signals idem gets meanwhile are forwarded to the group; when
// ctx ends (the lease is lost) the group gets SIGTERM, then SIGKILL after
// stopGrace. forwarded is the last signal forwarded, if any.
func (a *app) execute(ctx context.Context, argv []string, limit int) (res runResult, forwarded syscall.Signal, err error) {
	stdout := &capture{out: a.stdout, limit: limit}
	stderr := &capture{out: a.stderr, limit: limit}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdin, stdout, stderr
	cmd.SysProcAttr = procAttr()
	cmd.WaitDelay = pipeGrace

	// The parent-death signal is tied to the thread that started the
	// child: keep it alive until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return runResult{}, 0, startError(argv[0], err)
	}
	pid := cmd.Process.Pid
	a.sig.attach(pid)
	exited := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-exited:
		case <-t.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}()
	werr := cmd.Wait()
	close(exited)
	<-stopped
	forwarded = a.sig.detach()

	res = runResult{
		Format: resultFormat,
		Stdout: stdout.buf, StdoutTruncated: stdout.truncated,
		Stderr: stderr.buf, StderrTruncated: stderr.truncated,
	}
	var ws syscall.WaitStatus
	ok := cmd.ProcessState != nil
	if ok {
		ws, ok = cmd.ProcessState.Sys().(syscall.WaitStatus)
	}
	switch {
	case !ok:
		return res, forwarded, fmt.Errorf("idempotency: %s: unknown wait status: %v", argv[0], werr)
	case ws.Signaled():
		res.Exit = exitSignal + int(ws.Signal())
	default:
		res.Exit = ws.ExitStatus()
	}
	if ctx.Err() != nil {
		return res, forwarded, context.Cause(ctx)
	}
	return res, forwarded, nil
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
