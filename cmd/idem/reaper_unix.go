//go:build unix

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
)

// reaperEnv marks the process as a reaper (see reap). It is removed from
// the command's environment.
const reaperEnv = "IDEM_INTERNAL_REAPER"

// isReaper reports whether this process is a reaper started by idem run.
func isReaper() bool { return os.Getenv(reaperEnv) != "" }

// reap is the process between idem and the command. idem starts it, with
// argv as its arguments, as the leader of a new process group, with the
// read end of a pipe that only idem writes to on fd 3 and a status pipe
// on fd 4. It runs the command in its group and exits with the command's
// exit code (128+n for signal n) as soon as the command exits; processes
// the command left behind (daemons) are left alone then.
//
// When the pipe on fd 3 closes before that (idem was killed, or stops the
// command for good), it kills the command's whole process tree: on Linux
// it is a child subreaper, so every descendant, also one that left the
// process group, stays its descendant and is killed; elsewhere the process
// group is killed. Then it kills its group, itself included.
//
// The signals idem forwards to the group reach the reaper too; it catches
// them (a caught signal is reset for the command, an ignored one would
// not be) and stays to report the command's exit.
func reap(argv []string) int {
	os.Unsetenv(reaperEnv)
	// Inherited without close-on-exec: the command must hold neither.
	syscall.CloseOnExec(3)
	syscall.CloseOnExec(4)
	death, status := os.NewFile(3, "idem"), os.NewFile(4, "status")
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	go func() {
		for range sigs {
		}
	}()
	becomeSubreaper()

	fail := func(code int, err error) int {
		fmt.Fprintf(status, "%d\nidempotency: cannot run %s: %v", code, argv[0], err)
		return code
	}
	if len(argv) == 0 {
		return fail(exitSoftware, fmt.Errorf("no command"))
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fail(exitCode(startError(argv[0], err)), err)
	}
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		return fail(exitCode(startError(argv[0], err)), err)
	}
	status.Close()

	// Whichever comes first decides: the command's exit, or idem's end.
	var mu sync.Mutex
	exiting, dying := false, false
	go func() {
		_, _ = io.Copy(io.Discard, death)
		mu.Lock()
		if exiting {
			mu.Unlock()
			return
		}
		dying = true
		mu.Unlock()
		killTree()
	}()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return exitSoftware
		}
		if pid != proc.Pid {
			continue // an orphan of the command, reparented to us
		}
		mu.Lock()
		if dying {
			mu.Unlock()
			select {} // killTree ends this process
		}
		exiting = true
		mu.Unlock()
		if ws.Signaled() {
			return exitSignal + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// killTree kills every descendant (Linux) and then the process group,
// this process included.
func killTree() {
	self := os.Getpid()
	for range 200 {
		pids := liveDescendants(self)
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		// A process forking as it was killed leaves a child, reparented
		// to us: the next round finds it.
		sleepBriefly()
	}
	_ = syscall.Kill(-self, syscall.SIGKILL)
	select {}
}
