//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/storetest"
)

// newClock returns a hand-moved clock for Options.Now.
func newClock() *storetest.Clock {
	return storetest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

func claimReq(key string) idempotency.ClaimRequest {
	return idempotency.ClaimRequest{Key: key, Lease: time.Minute, TTL: time.Hour, Takeover: true}
}

// TestSyncsPerCall counts fsyncs and writes: a first call costs two per
// write (file, directory), a removal one, a duplicate none and no write.
func TestSyncsPerCall(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                                  string
		noSync                                bool
		claim, extend, complete, dup, release uint64
	}{
		{"Sync", false, 2, 1, 2, 0, 1},
		{"NoSync", true, 0, 0, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, &filestore.Options{NoSync: c.noSync, SweepInterval: -1})
			ctx := testCtx(t)
			step := func(what string, want uint64, wantWrites uint64, f func() error) {
				t.Helper()
				before := s.Stats()
				if err := f(); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				after := s.Stats()
				if got := after.Syncs - before.Syncs; got != want {
					t.Errorf("%s: %d fsyncs, want %d", what, got, want)
				}
				if got := after.Writes - before.Writes; got != wantWrites {
					t.Errorf("%s: %d writes, want %d", what, got, wantWrites)
				}
			}
			var tok idempotency.Token
			step("first claim", c.claim, 1, func() error {
				cl, err := s.Claim(ctx, claimReq("k"))
				tok = cl.Record.Token
				return err
			})
			step("duplicate of an in-progress call", c.dup, 0, func() error { _, err := s.Claim(ctx, claimReq("k")); return err })
			step("extend", c.extend, 1, func() error { return s.Extend(ctx, "k", tok, time.Minute) })
			step("complete", c.complete, 1, func() error {
				return s.Complete(ctx, "k", tok, idempotency.Outcome{Status: idempotency.StatusCompleted, Value: []byte("v"), TTL: time.Hour})
			})
			step("duplicate of a completed call", c.dup, 0, func() error {
				cl, err := s.Claim(ctx, claimReq("k"))
				if err == nil && cl.Acquired {
					err = errors.New("acquired")
				}
				return err
			})
			step("get", 0, 0, func() error { _, err := s.Get(ctx, "k"); return err })
			step("claim to release", c.claim, 1, func() error {
				cl, err := s.Claim(ctx, claimReq("r"))
				tok = cl.Record.Token
				return err
			})
			step("release", c.release, 0, func() error { return s.Release(ctx, "r", tok) })
			step("stale release", 0, 0, func() error {
				if err := s.Release(ctx, "r", tok); !errors.Is(err, idempotency.ErrLeaseLost) {
					return fmt.Errorf("second release: %v", err)
				}
				return nil
			})
		})
	}
}

// TestTokensKeepGrowing checks that a key's tokens grow across release,
// delete, expiry, a reopened store and even lost lock files.
func TestTokensKeepGrowing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	open := func() *filestore.Store {
		s, err := filestore.New(dir, &filestore.Options{Now: clk.Now, SweepInterval: -1, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	ctx := testCtx(t)
	var last idempotency.Token
	next := func(what string) idempotency.Token {
		t.Helper()
		c, err := s.Claim(ctx, claimReq("k"))
		if err != nil || !c.Acquired {
			t.Fatalf("%s: claim = %+v, %v", what, c, err)
		}
		if c.Record.Token <= last {
			t.Fatalf("%s: token %d, want above %d", what, c.Record.Token, last)
		}
		last = c.Record.Token
		return last
	}
	tok := next("first")
	if err := s.Release(ctx, "k", tok); err != nil {
		t.Fatal(err)
	}
	next("after release")
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	tok = next("after delete")
	if err := s.Complete(ctx, "k", tok, idempotency.Outcome{Status: idempotency.StatusCompleted, TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	next("after expiry")
	clk.Advance(2 * time.Hour)
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v", n, err)
	}
	tok = next("after sweep")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	if err := s.Release(ctx, "k", tok); err != nil {
		t.Fatal(err)
	}
	next("reopened")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Lost lock files restart their counters from the clock, which moved
	// on; the live record's token bounds the next one too.
	if err := os.RemoveAll(filepath.Join(dir, "locks")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "locks"), 0o700); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	s = open()
	defer s.Close()
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	next("lock files lost")
}

// TestSweep removes expired records and stale temporary files, and
// nothing else: the directory tracks live records.
func TestSweep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s, err := filestore.New(dir, &filestore.Options{Now: clk.Now, SweepInterval: -1, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := testCtx(t)
	for i := range 100 {
		k := "short/" + strconv.Itoa(i)
		c, err := s.Claim(ctx, claimReq(k))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, k, c.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Claim(ctx, idempotency.ClaimRequest{Key: "forever", Lease: time.Second, TTL: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, idempotency.ClaimRequest{Key: "running", Lease: time.Second, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(dir, "tmp", "1-dead.tmp"), filepath.Join(dir, "tmp", "2-busy.tmp")
	writeFile(t, stale, []byte("half a record"))
	writeFile(t, fresh, []byte("half a record"))
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if n := countRecordFiles(t, dir); n != 102 {
		t.Fatalf("%d record files, want 102", n)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("Sweep before expiry = %d, %v", n, err)
	}
	clk.Advance(time.Minute)
	n, err := s.Sweep(ctx)
	if err != nil || n != 101 {
		t.Fatalf("Sweep = %d, %v; want the 100 expired outcomes and the expired claim", n, err)
	}
	if n := countRecordFiles(t, dir); n != 1 {
		t.Fatalf("%d record files after Sweep, want 1", n)
	}
	if _, err := s.Get(ctx, "forever"); err != nil {
		t.Fatalf("record without expiry: %v", err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file: %v, want removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("fresh temp file: %v, want kept", err)
	}
}

func countRecordFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(dir, "records"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBackgroundSweeper checks that the sweeper runs on its own, at the
// SweepInterval given (10 ms: the record is gone well within 20 s, where
// the default of a minute would not be), and stops with Close (goleak
// checks the goroutine is gone).
func TestBackgroundSweeper(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s, err := filestore.New(dir, &filestore.Options{Now: clk.Now, SweepInterval: 10 * time.Millisecond, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Claim(testCtx(t), claimReq("k")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	deadline := time.Now().Add(20 * time.Second)
	for countRecordFiles(t, dir) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("expired record still on disk 20s later, with a sweep every 10ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLockFiles checks that many keys share a fixed set of lock files and
// that they are close-on-exec, so that children never inherit a lock.
func TestLockFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := filestore.New(dir, &filestore.Options{NoSync: true, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 1000 {
		if _, err := s.Claim(testCtx(t), claimReq(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, "locks"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 64 {
		t.Fatalf("%d lock files for 1000 keys, want 64", len(ents))
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	locks := 0
	for _, fd := range fds {
		target, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err != nil || !strings.HasPrefix(target, filepath.Join(dir, "locks")) {
			continue
		}
		locks++
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
				if err != nil {
					t.Fatal(err)
				}
				if flags&syscall.O_CLOEXEC == 0 {
					t.Errorf("lock file %s open without O_CLOEXEC (flags %o)", target, flags)
				}
			}
		}
	}
	if locks != 64 {
		t.Fatalf("%d lock files open, want 64", locks)
	}
}

// TestLockRespectsContext holds a key's lock from another Store (as
// another process would) and checks that a writer gives up when its
// context ends, and proceeds once the lock is free.
func TestLockRespectsContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := filestore.New(dir, &filestore.Options{NoSync: true, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.Claim(testCtx(t), claimReq("k"))
	if err != nil {
		t.Fatal(err)
	}
	release := holdLocks(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Extend(ctx, "k", c.Record.Token, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Extend while another process holds the lock: %v, want DeadlineExceeded", err)
	}
	// A duplicate needs no lock.
	if d, err := s.Claim(testCtx(t), claimReq("k")); err != nil || d.Acquired || d.Record.Token != c.Record.Token {
		t.Fatalf("duplicate claim while locked = %+v, %v", d, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Extend(testCtx(t), "k", c.Record.Token, time.Minute) }()
	release()
	if err := <-done; err != nil {
		t.Fatalf("Extend once the lock is free: %v", err)
	}
}

// holdLocks takes every stripe's flock of the store in dir by hand, through
// descriptions of its own, as another process would; release (also run at
// the test's end) drops them.
func holdLocks(t *testing.T, dir string) (release func()) {
	t.Helper()
	var held []*os.File
	release = func() {
		for _, f := range held {
			_ = f.Close()
		}
		held = nil
	}
	t.Cleanup(release)
	for i := range 64 {
		f, err := os.OpenFile(filepath.Join(dir, "locks", fmt.Sprintf("%02d.lock", i)), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, f)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
	}
	return release
}

// TestStoresShareDirectory runs two Stores on one directory from many
// goroutines: they exclude each other through the file locks alone.
func TestStoresShareDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var stores []*filestore.Store
	for range 2 {
		s, err := filestore.New(dir, &filestore.Options{NoSync: true, SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	const keys, workers = 100, 8
	var ran [keys]atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		g := idempotency.New(stores[w%2], &idempotency.Config{WaitTimeout: time.Minute})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				k := (i + w*13) % keys
				v, err := idempotency.Do(testCtx(t), g, strconv.Itoa(k), func(context.Context) (int, error) {
					ran[k].Add(1)
					return k, nil
				})
				if err != nil || v != k {
					t.Errorf("Do(%d) = %d, %v", k, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for k := range ran {
		if n := ran[k].Load(); n != 1 {
			t.Errorf("key %d ran %d times, want 1", k, n)
		}
	}
}

// TestWatchOtherStore checks that a change made by another Store on the
// directory (another process) wakes a watcher by polling, and that one
// made through the same Store wakes it even without polling.
func TestWatchOtherStore(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		poll    time.Duration
		sameOne bool
	}{
		{"OtherStorePolled", 20 * time.Millisecond, false},
		{"OtherStoreDefaultPoll", 0, false},
		{"SameStoreNoPolling", -1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			w, err := filestore.New(dir, &filestore.Options{NoSync: true, SweepInterval: -1, PollInterval: c.poll})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			writer := w
			if !c.sameOne {
				if writer, err = filestore.New(dir, &filestore.Options{NoSync: true, SweepInterval: -1}); err != nil {
					t.Fatal(err)
				}
				defer writer.Close()
			}
			cl, err := writer.Claim(testCtx(t), claimReq("k"))
			if err != nil {
				t.Fatal(err)
			}
			ch, stop, err := w.Watch(testCtx(t), "k")
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			// A watch on an unchanged record stays quiet.
			quiet, stopQuiet, err := w.Watch(testCtx(t), "other")
			if err != nil {
				t.Fatal(err)
			}
			if err := writer.Complete(testCtx(t), "k", cl.Record.Token, idempotency.Outcome{Status: idempotency.StatusCompleted}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ch:
			case <-time.After(time.Minute):
				t.Fatal("watcher not woken a minute after the record changed")
			}
			select {
			case <-quiet:
				t.Fatal("watch of an unchanged key fired")
			default:
			}
			stopQuiet()
			stopQuiet()
		})
	}
}

// TestNewRejects checks New's errors: they name the problem and touch
// nothing.
func TestNewRejects(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, []byte("x"))
	foreign := t.TempDir()
	writeFile(t, filepath.Join(foreign, "FORMAT"), []byte("idempotency filestore 9\n"))
	cases := []struct {
		name, dir, want string
	}{
		{"Empty", "", "empty directory name"},
		{"File", file, "not a directory"},
		{"OtherFormat", foreign, "unknown store format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, err := filestore.New(c.dir, nil)
			if err == nil {
				s.Close()
				t.Fatalf("New(%q) succeeded", c.dir)
			}
			var oe *idemtype.OpError
			if !errors.As(err, &oe) || oe.Op != "open" || !strings.HasPrefix(err.Error(), "idempotency: filestore: open: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New(%q) = %v, want an error of open about %q", c.dir, err, c.want)
			}
		})
	}
}
