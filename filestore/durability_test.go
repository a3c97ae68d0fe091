//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
)

// TestDirectoryFsync follows the file-system calls of every change: a
// record is fsynced in tmp/ before it is renamed over the record file,
// and the record's own directory is fsynced after the rename or removal,
// so that neither is lost to a power loss (a renewal alone skips the
// directory: losing it only shortens a dead executor's lease).
func TestDirectoryFsync(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := newStoreIn(t, dir, &filestore.Options{Now: clk.Now, SweepInterval: -1, PollInterval: -1})
	var mu sync.Mutex
	var events []string
	filestore.Trace(s, func(op, path string) {
		mu.Lock()
		defer mu.Unlock()
		if rel, err := filepath.Rel(dir, path); err == nil && strings.HasPrefix(rel, "tmp"+string(filepath.Separator)) {
			path = "tmp" // temporary names are random
		}
		events = append(events, op+" "+path)
	})
	ctx := testCtx(t)
	step := func(what string, f func() error, want ...string) {
		t.Helper()
		mu.Lock()
		events = nil
		mu.Unlock()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(events, want) {
			t.Errorf("%s: file-system calls\n\t%q\nwant\n\t%q", what, events, want)
		}
	}
	file := func(key string) string { return recordPath(dir, key) }
	parent := func(key string) string { return filepath.Dir(recordPath(dir, key)) }
	write := func(key string) []string {
		return []string{"fsync tmp", "rename " + file(key), "fsync dir " + parent(key)}
	}
	remove := func(key string) []string { return []string{"remove " + file(key), "fsync dir " + parent(key)} }

	var tok idempotency.Token
	claim := func(key string) func() error {
		return func() error {
			c, err := s.Claim(ctx, claimReq(key))
			tok = c.Record.Token
			return err
		}
	}
	// Keys in different record directories, so that a sync of the wrong
	// one shows.
	a, b := "a", "b"
	if parent(a) == parent(b) {
		t.Fatalf("keys %q and %q share a directory", a, b)
	}
	step("claim", claim(a), write(a)...)
	step("extend", func() error { return s.Extend(ctx, a, tok, time.Minute) }, "fsync tmp", "rename "+file(a))
	step("complete", func() error {
		return s.Complete(ctx, a, tok, idempotency.Outcome{Status: idempotency.StatusCompleted, TTL: time.Minute})
	}, write(a)...)
	step("duplicate", func() error { _, err := s.Claim(ctx, claimReq(a)); return err })
	step("claim b", claim(b), write(b)...)
	step("release", func() error { return s.Release(ctx, b, tok) }, remove(b)...)
	step("claim b again", claim(b), write(b)...)
	step("delete", func() error { return s.Delete(ctx, b) }, remove(b)...)
	step("delete missing", func() error { return s.Delete(ctx, b) })
	clk.Advance(2 * time.Minute)
	step("sweep", func() error { _, err := s.Sweep(ctx); return err }, remove(a)...)
	step("claim after expiry", claim(a), write(a)...)
	lapsed := claimReq(a)
	clk.Advance(2 * time.Minute) // a's lease lapsed
	step("takeover", func() error { _, err := s.Claim(ctx, lapsed); return err }, write(a)...)
}
