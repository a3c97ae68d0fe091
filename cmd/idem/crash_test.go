package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func touch(t *testing.T, e *env, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, name), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// crashScript records its pid, appends "start", and then runs until the
// file "go" exists before appending "end".
const crashScript = `echo $$ > pid.$$; echo start >> effects; while [ ! -e go ]; do sleep 0.05; done; echo end >> effects`

// killMidCommand starts idem run with args and crashScript, SIGKILLs idem
// once the command started, and waits until the command is gone too.
func killMidCommand(t *testing.T, e *env, args ...string) {
	t.Helper()
	cmd := e.command(append(append([]string{"run"}, args...), "--", "sh", "-c", crashScript)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the command to start", func() bool { return e.count("effects", "start") == 1 })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// The kernel kills the command with its idem (parent-death signal).
	pid := commandPid(t, e)
	waitFor(t, "the orphaned command to die", func() bool { return processGone(pid) })
}

func commandPid(t *testing.T, e *env) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(e.dir, "pid.*"))
	if len(m) != 1 {
		t.Fatalf("pid files %v, want 1", m)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(m[0]), "."))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(m[0]); err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestRunKilledIsTakenOverAfterLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	killMidCommand(t, e, "--key", "k", "--lease", "1s")
	touch(t, e, "go")
	// The next run waits for the dead run's lease to lapse, then takes
	// the key over and runs the command once more.
	r := e.idem("-v", "run", "--key", "k", "--lease", "1s", "--wait", "2m", "--", "sh", "-c", crashScript).want(t, 0)
	if !strings.Contains(r.stderr, "took over") {
		t.Errorf("stderr %q, want a takeover note", r.stderr)
	}
	if s, n := e.count("effects", "start"), e.count("effects", "end"); s != 2 || n != 1 {
		t.Fatalf("%d starts and %d ends, want 2 and 1: %q", s, n, e.lines("effects"))
	}
	// Recorded now: a third run replays.
	e.idem("run", "--key", "k", "--lease", "1s", "--", "sh", "-c", crashScript).want(t, 0)
	if s := e.count("effects", "start"); s != 2 {
		t.Fatalf("%d starts after a replay, want 2", s)
	}
}

func TestRunKilledNoTakeover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	killMidCommand(t, e, "--key", "k", "--lease", "1s")
	touch(t, e, "go")
	args := []string{"run", "--key", "k", "--lease", "1s", "--no-takeover", "--wait", "2m", "--", "sh", "-c", crashScript}
	r := e.idem(args...).want(t, exitAbandoned)
	if !strings.Contains(r.stderr, "abandoned") {
		t.Errorf("stderr %q", r.stderr)
	}
	if s := e.count("effects", "start"); s != 1 {
		t.Fatalf("%d starts, want 1 (no takeover)", s)
	}
	// An operator decides it did not happen and frees the key.
	e.idem("forget", "k").want(t, 0)
	e.idem(args...).want(t, 0)
	if s, n := e.count("effects", "start"), e.count("effects", "end"); s != 2 || n != 1 {
		t.Fatalf("%d starts and %d ends after forget, want 2 and 1", s, n)
	}
}

func TestRunStalledLosesLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	args := []string{"run", "--key", "k", "--lease", "1s", "--wait", "2m", "--", "sh", "-c", crashScript}
	stalled := start(t, e.command(args...))
	waitFor(t, "the first command to start", func() bool { return e.count("effects", "start") == 1 })
	// SIGSTOP stops idem, not its command (another process group): the
	// lease is no longer renewed while the command runs on.
	stalled.signal(syscall.SIGSTOP)
	takeover := start(t, e.command(args...))
	waitFor(t, "the takeover's command to start", func() bool { return e.count("effects", "start") == 2 })
	// Resumed, the stalled idem learns its lease is lost and stops its
	// command before "go" lets it finish.
	stalled.signal(syscall.SIGCONT)
	r := stalled.wait().want(t, exitTempFail)
	if !strings.Contains(r.stderr, "lost the lease") {
		t.Errorf("stalled run stderr %q", r.stderr)
	}
	touch(t, e, "go")
	takeover.wait().want(t, 0)
	if n := e.count("effects", "end"); n != 1 {
		t.Fatalf("%d ends, want 1 (the stalled command was stopped)", n)
	}
}

func TestRunForwardsSignals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sig  syscall.Signal
	}{
		{"SIGTERM", syscall.SIGTERM},
		{"SIGINT", syscall.SIGINT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			// The command traps the signal, notes it and exits 143; under
			// --remember-failure that would be recorded, were it not an
			// interruption.
			script := `trap 'echo got >> effects; exit 143' TERM INT; echo start >> effects; while :; do sleep 0.05; done`
			p := start(t, e.command("run", "--key", "k", "--remember-failure", "--", "sh", "-c", script))
			waitFor(t, "the command to start", func() bool { return e.count("effects", "start") == 1 })
			p.signal(tt.sig)
			p.wait().want(t, 143)
			if e.count("effects", "got") != 1 {
				t.Fatalf("the command did not get the signal: %q", e.lines("effects"))
			}
			e.idem("get", "k").want(t, exitNoRecord)
		})
	}
}

func TestRunInterruptedWhileWaiting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	holder := start(t, e.command("run", "--key", "k", "--", "sh", "-c", crashScript))
	waitFor(t, "the first command to start", func() bool { return e.count("effects", "start") == 1 })
	// -v prints the key once idem handles signals, before it waits.
	waiter := start(t, e.command("-v", "run", "--key", "k", "--wait", "2m", "--", "sh", "-c", crashScript))
	waiter.waitStderr("idem: key")
	waiter.signal(syscall.SIGINT)
	waiter.wait().want(t, exitSignal+int(syscall.SIGINT))
	touch(t, e, "go")
	holder.wait().want(t, 0)
	if s := e.count("effects", "start"); s != 1 {
		t.Fatalf("%d starts, want 1", s)
	}
}
