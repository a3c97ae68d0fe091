//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
)

// running is a command started under a reaper: a copy of idem (see reap)
// that leads the command's process group and kills the command's process
// tree when idem dies, which it learns from the death pipe closing.
type running struct {
	cmd       *exec.Cmd
	death     *os.File // write end; the reaper holds the read end
	closeOnce sync.Once
}

// startCommand starts argv under a reaper in a new process group. A
// command that cannot be found or executed is reported with startError,
// and nothing runs.
func startCommand(argv []string, stdin io.Reader, stdout, stderr io.Writer) (*running, error) {
	// The reaper would find the same: report it here, as the shell does.
	if err := exec.Command(argv[0]).Err; err != nil {
		return nil, startError(argv[0], err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, &codeError{code: exitSoftware, err: fmt.Errorf("idempotency: cannot find idem's own binary to run the command under: %w", err)}
	}
	deathR, deathW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		deathR.Close()
		deathW.Close()
		return nil, err
	}
	cmd := exec.Command(self, argv...)
	cmd.Env = append(os.Environ(), reaperEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ExtraFiles = []*os.File{deathR, statusW} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = pipeGrace
	err = cmd.Start()
	deathR.Close()
	statusW.Close()
	if err != nil {
		deathW.Close()
		statusR.Close()
		return nil, startError(self, err)
	}
	// The reaper closes its end once the command started, or writes why it
	// could not start it.
	msg, _ := io.ReadAll(statusR)
	statusR.Close()
	if len(msg) > 0 {
		_ = cmd.Wait()
		deathW.Close()
		code, text, _ := bytes.Cut(msg, []byte("\n"))
		n, _ := strconv.Atoi(string(code))
		return nil, &codeError{code: n, err: errors.New(string(text))}
	}
	return &running{cmd: cmd, death: deathW}, nil
}

func (r *running) pid() int { return r.cmd.Process.Pid }

// signal sends sig to the command's process group.
func (r *running) signal(sig syscall.Signal) { signalGroup(r.pid(), sig) }

// signalGroup sends sig to the process group pgid.
func signalGroup(pgid int, sig syscall.Signal) { _ = syscall.Kill(-pgid, sig) }

// killTree makes the reaper kill the command's process tree and itself.
func (r *running) killTree() { r.closeDeath() }

func (r *running) wait() error {
	err := r.cmd.Wait()
	r.closeDeath()
	return err
}

func (r *running) exitCode() (int, bool) { return exitCodeOf(r.cmd) }

func (r *running) closeDeath() { r.closeOnce.Do(func() { r.death.Close() }) }
