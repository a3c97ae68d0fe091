package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// effect is a command that appends one line to the file effects (with
// O_APPEND, so concurrent appends are counted right) and prints to both
// streams.
const effect = `echo x >> effects; echo out; echo err >&2`

func TestRunOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string // before --
		cmd  string
		code int
	}{
		{"explicit key", []string{"--key", "k"}, effect, 0},
		{"derived key", nil, effect, 0},
		{"named key", []string{"--name", "job"}, effect, 0},
		{"remembered failure", []string{"--key", "k", "--remember-failure"}, effect + "; exit 3", 3},
		{"killed by a signal, remembered", []string{"--key", "k", "--remember-failure"}, effect + `; kill -USR1 $$`, 128 + 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			args := append(append([]string{"run"}, tt.args...), "--", "sh", "-c", tt.cmd)
			first := e.idem(args...).want(t, tt.code)
			second := e.idem(args...).want(t, tt.code)
			if n := len(e.lines("effects")); n != 1 {
				t.Fatalf("%d effects, want 1", n)
			}
			for _, r := range []result{first, second} {
				if r.stdout != "out\n" || r.stderr != "err\n" {
					t.Errorf("stdout %q, stderr %q; want %q, %q", r.stdout, r.stderr, "out\n", "err\n")
				}
			}
		})
	}
}

func TestRunReplayNoteOnlyWhenVerbose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.idem("run", "--key", "k", "--", "sh", "-c", effect).want(t, 0)
	if r := e.idem("run", "--key", "k", "--", "sh", "-c", effect).want(t, 0); r.stderr != "err\n" {
		t.Errorf("quiet replay stderr %q, want only the recorded %q", r.stderr, "err\n")
	}
	r := e.idem("-v", "run", "--key", "k", "--", "sh", "-c", effect).want(t, 0)
	if !strings.Contains(r.stderr, "replaying") {
		t.Errorf("verbose replay stderr %q, want a note", r.stderr)
	}
	if n := len(e.lines("effects")); n != 1 {
		t.Fatalf("%d effects, want 1", n)
	}
}

func TestRunConcurrentProcesses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wait string
	}{
		// Duplicates wait for the first run and replay its outcome.
		{"waiting", "2m"},
		// Duplicates arriving while it runs exit 75 at once.
		{"not waiting", "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			const procs = 8
			// The sleep keeps the first run going while the others arrive.
			args := []string{"run", "--key", "once", "--wait", tt.wait, "--", "sh", "-c", effect + "; sleep 1"}
			results := make([]result, procs)
			var wg sync.WaitGroup
			for i := range procs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = finish(t, e.command(args...))
				}()
			}
			wg.Wait()
			succeeded := 0
			for i, r := range results {
				switch {
				case r.code == 0 && r.stdout == "out\n" && r.stderr == "err\n":
					succeeded++
				case r.code == exitTempFail && tt.wait == "0s" && r.stdout == "" && strings.Contains(r.stderr, "in progress"):
				default:
					t.Errorf("process %d: exit %d, stdout %q, stderr %q", i, r.code, r.stdout, r.stderr)
				}
			}
			if succeeded == 0 || (tt.wait != "0s" && succeeded != procs) {
				t.Errorf("%d of %d processes succeeded", succeeded, procs)
			}
			if n := len(e.lines("effects")); n != 1 {
				t.Fatalf("%d effects from %d processes, want 1", n, procs)
			}
		})
	}
}

func TestRunFailureReleased(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	args := []string{"run", "--key", "k", "--", "sh", "-c", effect + "; exit 3"}
	for i := 1; i <= 2; i++ {
		r := e.idem(args...).want(t, 3)
		if r.stdout != "out\n" {
			t.Errorf("run %d: stdout %q", i, r.stdout)
		}
		if n := len(e.lines("effects")); n != i {
			t.Fatalf("after run %d: %d effects, want %d (a failure is retried)", i, n, i)
		}
	}
	e.idem("get", "k").want(t, exitNoRecord)
	// Once it succeeds, it is recorded.
	e.idem("run", "--key", "k2", "--", "sh", "-c", "test -e ok || { touch ok; exit 1; }; echo x >> effects2").want(t, 1)
	e.idem("run", "--key", "k2", "--", "sh", "-c", "test -e ok || { touch ok; exit 1; }; echo x >> effects2").want(t, 0)
	e.idem("run", "--key", "k2", "--", "sh", "-c", "test -e ok || { touch ok; exit 1; }; echo x >> effects2").want(t, 0)
	if n := len(e.lines("effects2")); n != 1 {
		t.Fatalf("%d effects after a failure and two successes, want 1", n)
	}
}

func TestRunRememberedFailureRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.idem("run", "--key", "k", "--remember-failure", "--", "sh", "-c", effect+"; exit 7").want(t, 7)
	var v recordView
	if err := json.Unmarshal([]byte(e.idem("get", "k").want(t, 0).stdout), &v); err != nil {
		t.Fatal(err)
	}
	if v.Status != "completed" || v.Run == nil || v.Run.Exit != 7 || v.Run.StdoutBytes != 4 || v.Run.StderrBytes != 4 {
		t.Fatalf("record %+v (run %+v), want completed with exit 7 and 4+4 bytes of output", v, v.Run)
	}
}

func TestRunKeyReused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.idem("run", "--key", "k", "--", "sh", "-c", effect).want(t, 0)
	r := e.idem("run", "--key", "k", "--", "sh", "-c", effect+"; echo other")
	r.want(t, exitDataErr)
	if r.stdout != "" || !strings.Contains(r.stderr, "another command line") {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if n := len(e.lines("effects")); n != 1 {
		t.Fatalf("%d effects, want 1", n)
	}
}

func TestRunCannotStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  string
		code int
	}{
		{"not found", "./no-such-command", exitNotFound},
		{"not executable", "./plain-file", exitCannotExec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if r := e.idem("run", "--", "touch", "plain-file"); r.code != 0 {
				t.Fatalf("touch: %+v", r)
			}
			e.idem("run", "--key", "k", "--", tt.cmd).want(t, tt.code)
			// Nothing was recorded: the key is free.
			e.idem("get", "k").want(t, exitNoRecord)
		})
	}
}

func TestRunOutputLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	args := []string{"run", "--key", "k", "--max-output", "1K", "--", "sh", "-c", "head -c 3000 /dev/zero | tr '\\0' a; echo x >> effects"}
	first := e.idem(args...).want(t, 0)
	if len(first.stdout) != 3000 {
		t.Fatalf("first run printed %d bytes, want all 3000", len(first.stdout))
	}
	second := e.idem(args...).want(t, 0)
	if second.stdout != strings.Repeat("a", 1024) || !strings.Contains(second.stderr, "truncated") {
		t.Fatalf("replay printed %d bytes and stderr %q, want 1024 and a truncation note", len(second.stdout), second.stderr)
	}
	if n := len(e.lines("effects")); n != 1 {
		t.Fatalf("%d effects, want 1", n)
	}
}

func TestRunStdinPassedThrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cmd := e.command("run", "--key", "k", "--", "sh", "-c", "cat > got")
	cmd.Stdin = strings.NewReader("input\n")
	finish(t, cmd).want(t, 0)
	if got := e.lines("got"); len(got) != 1 || got[0] != "input" {
		t.Fatalf("command read %q, want the input", got)
	}
}

func TestRunInProgressElsewhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The first run holds the key until the file "go" exists.
	script := `echo start >> effects; while [ ! -e go ]; do sleep 0.05; done; echo out`
	first := start(t, e.command("run", "--key", "k", "--", "sh", "-c", script))
	waitFor(t, "the first run to start", func() bool { return len(e.lines("effects")) == 1 })
	r := e.idem("run", "--key", "k", "--", "sh", "-c", script).want(t, exitTempFail)
	if !strings.Contains(r.stderr, "in progress") {
		t.Errorf("stderr %q", r.stderr)
	}
	// A waiting duplicate gets the first run's outcome.
	waiter := start(t, e.command("run", "--key", "k", "--wait", "2m", "--", "sh", "-c", script))
	touch(t, e, "go")
	firstOut := first.wait().want(t, 0).stdout
	waiterOut := waiter.wait().want(t, 0).stdout
	if firstOut != "out\n" || waiterOut != "out\n" {
		t.Errorf("outputs %q and %q", firstOut, waiterOut)
	}
	if n := len(e.lines("effects")); n != 1 {
		t.Fatalf("%d effects, want 1", n)
	}
}
