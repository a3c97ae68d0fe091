package testchild

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// Command returns the test binary as a child that runs the tests matching
// run (none when run is empty: the child's role comes from TestMain), with
// env ("NAME=value") added to this process's environment.
func Command(run string, env ...string) *exec.Cmd {
	if run == "" {
		run = "^$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// Proc is a started child.
type Proc struct {
	Cmd            *exec.Cmd
	stdout, stderr Buffer
	done           chan struct{}
	err            error
}

// Start starts cmd and reaps it when it exits. Its output goes to buffers
// ([Proc.Stdout], [Proc.Stderr]) unless cmd sends it elsewhere. At t's
// cleanup a child still running is resumed (it may be stopped) and
// killed.
func Start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = &p.stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &p.stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			resume(cmd.Process)
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Done is closed once the child has exited and its output is complete.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the child's exit error, once Done is closed.
func (p *Proc) Err() error { return p.err }

// Stdout is what the child wrote to its standard output so far.
func (p *Proc) Stdout() []byte { return p.stdout.Bytes() }

// Stderr is what the child wrote to its standard error so far.
func (p *Proc) Stderr() []byte { return p.stderr.Bytes() }

// Signal sends sig to the child, failing t if it cannot.
func (p *Proc) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to child %d: %v", sig, p.Pid(), err)
	}
}

// Kill SIGKILLs the child, unless it has exited already, and waits until
// it is gone.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	if err := p.Cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("kill child %d: %v", p.Pid(), err)
	}
	<-p.done
}

// Wait waits for the child to exit on its own, at most bound, and fails t
// unless it exited with status 0.
func (p *Proc) Wait(t testing.TB, bound time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(bound):
		t.Fatalf("child %d still running after %v\n%s", p.Pid(), bound, p.Stderr())
	}
	if p.err != nil {
		t.Fatalf("child %d: %v; stderr:\n%s", p.Pid(), p.err, p.Stderr())
	}
}

// WaitFile waits, at most bound, until the file at path holds a line: the
// child writes it when it reaches the point where the test stops it. It
// fails t if the child exits first or bound passes.
func (p *Proc) WaitFile(t testing.TB, path string, bound time.Duration) {
	t.Helper()
	p.waitFor(t, bound, func() bool { return len(Lines(t, path)) > 0 })
}

// WaitLine waits, at most bound, until the child has written line as a
// whole line of its standard output (which must go to [Proc.Stdout]). It
// fails t if the child exits first or bound passes.
func (p *Proc) WaitLine(t testing.TB, line string, bound time.Duration) {
	t.Helper()
	p.waitFor(t, bound, func() bool {
		return slices.Contains(strings.Split(string(p.Stdout()), "\n"), line)
	})
}

// waitFor polls reached until it holds, the child exits or bound passes.
func (p *Proc) waitFor(t testing.TB, bound time.Duration, reached func() bool) {
	t.Helper()
	deadline := time.After(bound)
	for !reached() {
		select {
		case <-p.done:
			if reached() {
				return
			}
			t.Fatalf("child %d exited before its point: %v\n%s", p.Pid(), p.err, p.Stderr())
		case <-deadline:
			t.Fatalf("child %d did not reach its point within %v\n%s", p.Pid(), bound, p.Stderr())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
