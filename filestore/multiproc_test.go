//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/internal/testchild"
)

// proc is a child process running one role of child_test.go.
type proc struct{ *testchild.Proc }

func start(t *testing.T, role string, env ...string) proc {
	t.Helper()
	return proc{testchild.Start(t, testchild.Command("", append([]string{childEnv + "=" + role}, env...)...))}
}

// wait waits for the child to exit on its own and returns its report.
func (p proc) wait(t *testing.T) childResult {
	t.Helper()
	p.Wait(t, 5*time.Minute)
	var res childResult
	if err := json.Unmarshal(p.Stdout(), &res); err != nil {
		t.Fatalf("child %d report %q: %v", p.Pid(), p.Stdout(), err)
	}
	return res
}

type effectLine struct {
	tag string
	pid int
	at  time.Time
}

// effects reads the side-effect file the children append to.
func effects(t *testing.T, path string) []effectLine {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []effectLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			t.Fatalf("effects line %q", sc.Text())
		}
		pid, _ := strconv.Atoi(fields[1])
		ns, _ := strconv.ParseInt(fields[2], 10, 64)
		out = append(out, effectLine{tag: fields[0], pid: pid, at: time.Unix(0, ns)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitEffects waits until the effects file has n lines.
func waitEffects(t *testing.T, path string, n int) []effectLine {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if e := effects(t, path); len(e) >= n {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("effects file did not reach %d lines in 2 minutes", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func env(name, value string) string { return name + "=" + value }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestProcessesRace races 8 processes over the same 200 keys through the
// guard: each key's side effect happens exactly once.
func TestProcessesRace(t *testing.T) {
	t.Parallel()
	const procs, keys = 8, 200
	dir, tmp := t.TempDir(), t.TempDir()
	fx, startFile := filepath.Join(tmp, "effects"), filepath.Join(tmp, "start")
	var ps []proc
	for i := range procs {
		ps = append(ps, start(t, "race", env(envDir, dir), env(envEffects, fx), env(envKey, strconv.Itoa(keys)),
			env(envLease, "30s"), env(envStart, startFile), env(envSeed, strconv.Itoa(i))))
	}
	if err := os.WriteFile(startFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		p.wait(t)
	}
	seen := map[string]int{}
	for _, e := range effects(t, fx) {
		seen[e.tag]++
	}
	if len(seen) != keys {
		t.Fatalf("%d distinct keys had a side effect, want %d", len(seen), keys)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("key %s: %d side effects, want 1", k, n)
		}
	}
	s, err := filestore.New(dir, &filestore.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range keys {
		key := fmt.Sprintf("key/%d", i)
		rec, err := s.Get(testCtx(t), key)
		if err != nil || rec.Status != idempotency.StatusCompleted || string(rec.Value) != strconv.Quote("value of "+key) {
			t.Fatalf("record of %s = %+v, %v", key, rec, err)
		}
	}
}

// TestKilledChildTakeover kills a child in the middle of its function:
// duplicates in other processes wait, and exactly one of them runs the
// function again, after the dead child's lease and never before.
func TestKilledChildTakeover(t *testing.T) {
	t.Parallel()
	dir, fx := t.TempDir(), filepath.Join(t.TempDir(), "effects")
	common := []string{env(envDir, dir), env(envEffects, fx), env(envKey, "job"), env(envLease, "5s")}
	hung := start(t, "hang", common...)
	waitEffects(t, fx, 1)
	hung.Kill(t)

	s, err := filestore.New(dir, &filestore.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dead, err := s.Get(testCtx(t), "job")
	if err != nil || dead.Status != idempotency.StatusInProgress {
		t.Fatalf("record of the killed child = %+v, %v; want in progress", dead, err)
	}

	// Before the lease lapses a duplicate is turned away; a strict one
	// cannot run fn even if the lease lapsed meanwhile.
	probe := idempotency.New(s, &idempotency.Config{Lease: 5 * time.Second, NoTakeover: true})
	_, err = idempotency.Do(testCtx(t), probe, "job", func(context.Context) (string, error) {
		t.Error("probe ran fn")
		return "", nil
	}, idempotency.WithWaitTimeout(-1))
	probed := time.Now()
	if probed.Before(dead.LeaseUntil) && !errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("duplicate during the lease: %v, want ErrInProgress", err)
	}
	if !errors.Is(err, idempotency.ErrInProgress) && !errors.Is(err, idempotency.ErrAbandoned) {
		t.Fatalf("strict duplicate: %v, want ErrInProgress or ErrAbandoned", err)
	}

	var ps []proc
	for range 4 {
		ps = append(ps, start(t, "call", common...))
	}
	// The callers must be waiting well before the lease lapses, or "never
	// before the lease" below would be true of any store.
	if left := time.Until(dead.LeaseUntil); left < 2*time.Second || !probed.Before(dead.LeaseUntil) {
		t.Fatalf("callers started %v before the lease lapsed; too late to show a takeover waits for it", left)
	}
	var results []childResult
	for _, p := range ps {
		results = append(results, p.wait(t))
	}
	ran := 0
	for i, r := range results {
		ran += r.Ran
		if r.Err != "" || r.Value != results[0].Value {
			t.Errorf("caller %d: %+v, want value %q", i, r, results[0].Value)
		}
	}
	fxs := effects(t, fx)
	if ran != 1 || len(fxs) != 2 || fxs[1].tag != "call" {
		t.Fatalf("after the kill: %d re-executions, effects %+v; want exactly one re-execution", ran, fxs)
	}
	if fxs[1].at.Before(dead.LeaseUntil) {
		t.Fatalf("re-executed at %v, before the dead child's lease ended at %v", fxs[1].at, dead.LeaseUntil)
	}
	rec, err := s.Get(testCtx(t), "job")
	if err != nil || rec.Status != idempotency.StatusCompleted || rec.Token <= dead.Token || string(rec.Value) != strconv.Quote(results[0].Value) {
		t.Fatalf("final record = %+v, %v; want completed by a token above %d", rec, err, dead.Token)
	}
}

// TestKilledChildNoTakeover kills a child in the middle of its function
// under NoTakeover: every later call gets ErrAbandoned and nothing runs
// again until an operator forgets the key.
func TestKilledChildNoTakeover(t *testing.T) {
	t.Parallel()
	dir, fx := t.TempDir(), filepath.Join(t.TempDir(), "effects")
	common := []string{env(envDir, dir), env(envEffects, fx), env(envKey, "job"), env(envLease, "2s"), env(envStrict, "1")}
	hung := start(t, "hang", common...)
	waitEffects(t, fx, 1)
	hung.Kill(t)

	// Callers in other processes wait for the outcome until the lease
	// lapses, then give up with ErrAbandoned.
	var ps []proc
	for range 3 {
		ps = append(ps, start(t, "call", common...))
	}
	for i, p := range ps {
		if r := p.wait(t); !r.Abandoned || r.Ran != 0 {
			t.Errorf("strict caller %d after the kill: %+v, want ErrAbandoned without running", i, r)
		}
	}
	if n := len(effects(t, fx)); n != 1 {
		t.Fatalf("%d side effects, want 1", n)
	}

	s, err := filestore.New(dir, &filestore.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := idempotency.New(s, &idempotency.Config{Lease: 2 * time.Second, NoTakeover: true})
	ran := 0
	fn := func(context.Context) (string, error) { ran++; return "again", nil }
	if _, err := idempotency.Do(testCtx(t), g, "job", fn); !errors.Is(err, idempotency.ErrAbandoned) || ran != 0 {
		t.Fatalf("Do after the kill = %v (ran %d), want ErrAbandoned", err, ran)
	}
	if err := g.Forget(testCtx(t), "job"); err != nil {
		t.Fatal(err)
	}
	if v, err := idempotency.Do(testCtx(t), g, "job", fn); err != nil || v != "again" || ran != 1 {
		t.Fatalf("Do after Forget = %q, %v (ran %d)", v, err, ran)
	}
}

// TestStoppedChildLateCompletion stops a child past its lease, lets another
// execution take over and finish, then resumes the child: its late
// completion is rejected and the newer outcome stands.
func TestStoppedChildLateCompletion(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	fx, resume := filepath.Join(tmp, "effects"), filepath.Join(tmp, "resume")
	stalled := start(t, "stall", env(envDir, dir), env(envEffects, fx), env(envKey, "job"), env(envLease, "1500ms"), env(envResume, resume))
	waitEffects(t, fx, 1)
	stopOutsideLock(t, stalled)

	s, err := filestore.New(dir, &filestore.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Wait out the stopped child's lease (it cannot renew it).
	var old idempotency.Record
	for {
		old, err = s.Get(testCtx(t), "job")
		if err != nil {
			t.Fatal(err)
		}
		if !time.Now().Before(old.LeaseUntil) {
			break
		}
		time.Sleep(time.Until(old.LeaseUntil) + 10*time.Millisecond)
	}
	g := idempotency.New(s, &idempotency.Config{Lease: time.Minute})
	v, err := idempotency.Do(testCtx(t), g, "job", func(context.Context) (string, error) {
		return "newer", effect(fx, "newer")
	})
	if err != nil || v != "newer" {
		t.Fatalf("takeover Do = %q, %v", v, err)
	}
	newer, err := s.Get(testCtx(t), "job")
	if err != nil || newer.Token <= old.Token {
		t.Fatalf("record after takeover = %+v, %v; want a token above %d", newer, err, old.Token)
	}

	if err := os.WriteFile(resume, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	stalled.Signal(t, syscall.SIGCONT)
	r := stalled.wait(t)
	if r.Ran != 1 || r.Value != "stalled" || !r.LeaseLost {
		t.Fatalf("resumed child: %+v, want its value with ErrLeaseLost", r)
	}
	rec, err := s.Get(testCtx(t), "job")
	if err != nil || rec.Token != newer.Token || rec.Status != idempotency.StatusCompleted || string(rec.Value) != `"newer"` {
		t.Fatalf("record after the late completion = %+v, %v; want the newer outcome (token %d)", rec, err, newer.Token)
	}
	if fxs := effects(t, fx); len(fxs) != 2 || fxs[0].tag != "stall" || fxs[1].tag != "newer" {
		t.Fatalf("effects %+v, want the stalled and the newer execution", fxs)
	}
}

// stopOutsideLock SIGSTOPs the child at a moment it holds no file lock:
// stopped inside a store call (a lease renewal), it would block the key's
// stripe until resumed. /proc/locks names each flock's owner.
func stopOutsideLock(t *testing.T, p proc) {
	t.Helper()
	pid := p.Pid()
	for attempt := 0; ; attempt++ {
		p.Signal(t, syscall.SIGSTOP)
		waitStopped(t, pid)
		b, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Fatal(err)
		}
		if !holdsFlock(string(b), pid) {
			return
		}
		if attempt == 100 {
			t.Fatal("child holds a file lock at every stop")
		}
		p.Signal(t, syscall.SIGCONT)
		time.Sleep(5 * time.Millisecond)
	}
}

func holdsFlock(locks string, pid int) bool {
	for _, line := range strings.Split(locks, "\n") {
		f := strings.Fields(line)
		// "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; blocked
		// waiters have a "->" field first.
		if len(f) >= 5 && f[1] == "FLOCK" && f[4] == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}

// waitStopped waits until the kernel reports pid stopped (state T).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for range 10000 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// The state follows the parenthesised command name.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'T' {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("child %d did not stop", pid)
}
