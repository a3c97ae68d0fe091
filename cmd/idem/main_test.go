package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/internal/testchild"
	"go.uber.org/goleak"
)

// idemBin is the idem binary built for the tests, with the race detector
// when the tests have it.
var idemBin string

func TestMain(m *testing.M) {
	if isReaper() { // the in-process examples run commands under this binary
		os.Exit(reap(os.Args[1:]))
	}
	if isFuzzWorker() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "idem-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "idem tests:", err)
		os.Exit(1)
	}
	idemBin = filepath.Join(dir, "idem")
	args := []string{"build", "-o", idemBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "idem tests: go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	// Keep-alive connections of the proxy tests' client.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func isFuzzWorker() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzzworker") {
			return true
		}
	}
	return false
}

// cmdTimeout bounds every idem process a test runs; generous, since the
// machine may be busy.
const cmdTimeout = 3 * time.Minute

// env is a working directory for a test, and the store idem uses there.
type env struct {
	t     *testing.T
	dir   string
	store string // IDEM_STORE
}

// newEnv returns an env with a directory store of its own.
func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	return &env{t: t, dir: dir, store: filepath.Join(dir, "store")}
}

// command returns an idem process running in e.dir.
func (e *env) command(args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	e.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, idemBin, args...)
	cmd.Dir = e.dir
	cmd.Env = append(cleanEnv(), "IDEM_STORE="+e.store, "HOME="+e.dir)
	return cmd
}

// cleanEnv is the test's environment without what would change idem's
// store.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IDEM_STORE=") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			out = append(out, kv)
		}
	}
	return out
}

// result is a finished idem process.
type result struct {
	code           int
	stdout, stderr string
}

// idem runs idem to completion.
func (e *env) idem(args ...string) result {
	e.t.Helper()
	return finish(e.t, e.command(args...))
}

func finish(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// want fails the test unless r exited with code.
func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

// lines returns the lines of file in e.dir; none when it does not exist.
func (e *env) lines(file string) []string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, file))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// count returns how many lines of file in e.dir equal line.
func (e *env) count(file, line string) int {
	n := 0
	for _, l := range e.lines(file) {
		if l == line {
			n++
		}
	}
	return n
}

// waitFor polls until cond holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(cmdTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proc is an idem process running in the background.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr testchild.Buffer
	done           bool
}

// start starts cmd; the test's cleanup kills it if it still runs.
func start(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{t: t, cmd: cmd}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.done {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p
}

// wait waits for the process to exit.
func (p *proc) wait() result {
	p.t.Helper()
	err := p.cmd.Wait()
	p.done = true
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		p.t.Fatalf("%v: %v", p.cmd.Args, err)
	}
	return result{code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
}

// waitStderr waits until the process wrote s on stderr.
func (p *proc) waitStderr(s string) {
	p.t.Helper()
	waitFor(p.t, "stderr to show "+strconv.Quote(s), func() bool { return strings.Contains(p.stderr.String(), s) })
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

func touch(t *testing.T, e *env, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, name), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// crashScript records its pid, appends "start", and then runs until the
// file "go" exists before appending "end".
const crashScript = `echo $$ > pid.$$; echo start >> effects; while [ ! -e go ]; do sleep 0.05; done; echo end >> effects`
