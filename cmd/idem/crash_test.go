//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

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

// treeScript starts two children: one with two grandchildren in the
// command's process group, and one that leaves the group and the session
// (setsid) with a grandchild of its own, as a daemon would. Each records
// its pid in a file named pid.*; then the script says "started" and waits.
const treeScript = `
sh -c 'sleep 1000 & echo $! > pid.gc1; sleep 1000 & echo $! > pid.gc2; echo $$ > pid.c1; wait' &
setsid sh -c 'sleep 1000 & echo $! > pid.gc3; echo $$ > pid.c2; wait' &
while [ ! -s pid.gc1 ] || [ ! -s pid.gc2 ] || [ ! -s pid.gc3 ] || [ ! -s pid.c1 ] || [ ! -s pid.c2 ]; do sleep 0.05; done
echo $$ > pid.cmd
echo started >> effects
wait`

// treePids reads the pid files treeScript wrote.
func treePids(t *testing.T, e *env) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, name := range []string{"cmd", "c1", "c2", "gc1", "gc2", "gc3"} {
		b, err := os.ReadFile(filepath.Join(e.dir, "pid."+name))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("pid.%s: %v", name, err)
		}
		pids[name] = pid
	}
	// Whatever the outcome, nothing of the test outlives it.
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return pids
}

// survivors waits up to 20 s for the processes to be gone and returns
// those still running.
func survivors(pids map[string]int) []string {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var alive []string
		for name, pid := range pids {
			if !processGone(pid) {
				alive = append(alive, fmt.Sprintf("%s (pid %d)", name, pid))
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			sort.Strings(alive)
			return alive
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunKilledKillsProcessTree: when idem is SIGKILLed during idem run,
// the command's whole process tree dies with it: children, grandchildren,
// and (on Linux) a child that left the process group and the session.
// Otherwise a retry that takes the key over after the lease could run the
// command while the old run's processes still act.
func TestRunKilledKillsProcessTree(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cmd := e.command("run", "--key", "tree", "--", "sh", "-c", treeScript)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the process tree to start", func() bool { return e.count("effects", "started") == 1 })
	pids := treePids(t, e)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if alive := survivors(pids); len(alive) != 0 {
		t.Fatalf("%d of %d processes survived idem's SIGKILL: %v", len(alive), len(pids), alive)
	}
}

// TestRunStopKillsProcessTree: a command stopped for a lost lease
// that ignores SIGTERM is killed after the grace period with its whole
// process tree, not only its process group.
func TestRunStopKillsProcessTree(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// SIGSTOP on idem lets the lease lapse; the takeover runs; resumed,
	// idem learns the lease is lost and stops the tree.
	script := `trap '' TERM; ` + treeScript
	args := []string{"run", "--key", "tree", "--lease", "1s", "--wait", "2m", "--", "sh", "-c", script}
	stalled := start(t, e.command(args...))
	waitFor(t, "the process tree to start", func() bool { return e.count("effects", "started") == 1 })
	pids := treePids(t, e)
	stalled.signal(syscall.SIGSTOP)
	for _, f := range []string{"pid.cmd", "pid.c1", "pid.c2", "pid.gc1", "pid.gc2", "pid.gc3"} {
		if err := os.Remove(filepath.Join(e.dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	takeover := start(t, e.command(args...))
	waitFor(t, "the takeover's tree to start", func() bool { return e.count("effects", "started") == 2 })
	treePids(t, e) // cleaned up after the test
	stalled.signal(syscall.SIGCONT)
	stalled.wait().want(t, exitTempFail)
	if alive := survivors(pids); len(alive) != 0 {
		t.Fatalf("%d of %d processes of the stopped run survived: %v", len(alive), len(pids), alive)
	}
	takeover.signal(syscall.SIGKILL)
	takeover.wait()
}

// processGone reports whether pid no longer runs (a zombie counts as
// gone: nothing may reap orphans in a container).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// TestRunLeavesDaemons: processes a command leaves running when it exits
// normally are not killed (they are daemons by intent); the outcome is
// recorded once they closed idem's output, or after the pipe grace.
func TestRunLeavesDaemons(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `sleep 1000 > /dev/null 2>&1 & echo $! > pid.bg; setsid sleep 1000 & echo $! > pid.daemon; echo done`
	r := e.idem("run", "--key", "d", "--", "sh", "-c", script).want(t, 0)
	if r.stdout != "done\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
	for _, name := range []string{"bg", "daemon"} {
		b, err := os.ReadFile(filepath.Join(e.dir, "pid."+name))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		if processGone(pid) {
			t.Errorf("the %s process (pid %d) was killed when the command exited", name, pid)
		}
	}
	e.idem("get", "d").want(t, 0)
}
