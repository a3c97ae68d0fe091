package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemtype"
)

func TestTTLFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90m", 90 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"forever", idempotency.NoExpiry, true},
		{"1ms", time.Millisecond, true},
		{"0", 0, false},
		{"-1h", 0, false},
		{"0d", 0, false},
		{"d", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var f ttlFlag
			err := f.Set(tt.in)
			if (err == nil) != tt.ok || (tt.ok && f.d != tt.want) {
				t.Fatalf("Set(%q) = %v, %v; want %v, ok %v", tt.in, f.d, err, tt.want, tt.ok)
			}
		})
	}
}

func TestSizeFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"512K", 512 << 10, true},
		{"1M", 1 << 20, true},
		{"1MiB", 1 << 20, true},
		{"2g", 2 << 30, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1T", 0, false},
		{"M", 0, false},
		{"99999999999G", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var f sizeFlag
			err := f.Set(tt.in)
			if (err == nil) != tt.ok || (tt.ok && f.n != tt.want) {
				t.Fatalf("Set(%q) = %d, %v; want %d, ok %v", tt.in, f.n, err, tt.want, tt.ok)
			}
		})
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, syscall.EPIPE
}

func TestCapture(t *testing.T) {
	t.Parallel()
	t.Run("limit", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		c := &capture{out: &out, limit: 5}
		for _, s := range []string{"abc", "def", "gh"} {
			if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", s, n, err)
			}
		}
		if string(c.buf) != "abcde" || !c.truncated || out.String() != "abcdefgh" {
			t.Fatalf("kept %q (truncated %v), passed %q", c.buf, c.truncated, out.String())
		}
	})
	t.Run("exact fit is not truncated", func(t *testing.T) {
		t.Parallel()
		c := &capture{out: &bytes.Buffer{}, limit: 3}
		_, _ = c.Write([]byte("abc"))
		if c.truncated || string(c.buf) != "abc" {
			t.Fatalf("kept %q, truncated %v", c.buf, c.truncated)
		}
	})
	t.Run("broken pass-through keeps capturing", func(t *testing.T) {
		t.Parallel()
		w := &failingWriter{}
		c := &capture{out: w, limit: 10}
		for range 3 {
			if _, err := c.Write([]byte("ab")); err != nil {
				t.Fatal(err)
			}
		}
		if string(c.buf) != "ababab" || w.n != 1 {
			t.Fatalf("kept %q; pass-through tried %d times, want 1", c.buf, w.n)
		}
	})
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	wrap := func(kind error) error { return &idempotency.Error{Kind: kind, Key: "k"} }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"key reused", wrap(idempotency.ErrKeyReused), exitDataErr},
		{"invalid key", wrap(idempotency.ErrInvalidKey), exitDataErr},
		{"in progress", wrap(idempotency.ErrInProgress), exitTempFail},
		{"duplicate in progress", &idempotency.Error{Kind: idempotency.ErrDuplicate, Err: idempotency.ErrInProgress}, exitTempFail},
		{"lease lost", fmt.Errorf("x: %w", idempotency.ErrLeaseLost), exitTempFail},
		{"abandoned", wrap(idempotency.ErrAbandoned), exitAbandoned},
		{"not recorded", wrap(idempotency.ErrNotRecorded), exitNotRecorded},
		{"not found", idemtype.ErrNotFound, exitNoRecord},
		{"corrupt", &filestore.CorruptError{Path: "p", Reason: "r"}, exitSoftware},
		{"result unavailable", errNotRunResult, exitSoftware},
		{"store", wrap(idempotency.ErrStore), exitUnavailable},
		{"store wrapping a context error", &idempotency.Error{Kind: idempotency.ErrStore, Err: context.Canceled}, exitUnavailable},
		{"unavailable", unavailable(errors.New("dial tcp: refused")), exitUnavailable},
		{"unavailable keeps corrupt", unavailable(&filestore.CorruptError{}), exitSoftware},
		{"interrupted", &idempotency.Error{Kind: idempotency.ErrStore, Err: &interrupted{sig: syscall.SIGTERM}}, exitSignal + 15},
		{"code", startError("x", os.ErrNotExist), exitNotFound},
		{"other", errors.New("boom"), exitSoftware},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := exitCode(tt.err); got != tt.want {
				t.Fatalf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestOpenStoreFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		raw     string
		env     map[string]string
		wantDir string
	}{
		{"plain path", filepath.Join(dir, "a"), nil, filepath.Join(dir, "a")},
		{"file URL", "file://" + filepath.Join(dir, "b"), nil, filepath.Join(dir, "b")},
		{"file URL with localhost", "file://localhost" + filepath.Join(dir, "c"), nil, filepath.Join(dir, "c")},
		{"XDG_STATE_HOME", "", map[string]string{"XDG_STATE_HOME": filepath.Join(dir, "state"), "HOME": filepath.Join(dir, "home")}, filepath.Join(dir, "state", "idem")},
		{"relative XDG_STATE_HOME is ignored", "", map[string]string{"XDG_STATE_HOME": "rel", "HOME": filepath.Join(dir, "home")}, filepath.Join(dir, "home", ".local", "state", "idem")},
		{"HOME", "", map[string]string{"HOME": filepath.Join(dir, "home2")}, filepath.Join(dir, "home2", ".local", "state", "idem")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := &app{getenv: func(k string) string { return tt.env[k] }}
			s, closeStore, err := a.openStore(context.Background(), tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			fs, ok := s.(*filestore.Store)
			if !ok || fs.Dir() != tt.wantDir {
				t.Fatalf("store %T in %q, want a filestore in %q", s, fs.Dir(), tt.wantDir)
			}
		})
	}
}

func TestOpenStoreErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		code int
	}{
		{"unknown scheme", "mysql://h/db", exitUsage},
		{"remote file URL", "file://otherhost/dir", exitUsage},
		{"bad redis option", "redis://127.0.0.1:1/0?bogus=1", exitUsage},
		{"bad redis db", "redis://127.0.0.1:1/notanumber", exitUsage},
		{"empty cluster", "redis+cluster:///?prefix=x", exitUsage},
		{"bad postgres URL", "postgres://h:notaport/db", exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := &app{getenv: func(string) string { return "" }}
			s, closeStore, err := a.openStore(context.Background(), tt.raw)
			if err == nil {
				closeStore()
				t.Fatalf("opened %T", s)
			}
			if got := exitCode(err); got != tt.code {
				t.Fatalf("%v: exit code %d, want %d", err, got, tt.code)
			}
			if !strings.HasPrefix(err.Error(), "idempotency: ") {
				t.Errorf("error %q does not start with the package prefix", err)
			}
		})
	}
}

func TestRedactedPasswords(t *testing.T) {
	t.Parallel()
	a := &app{getenv: func(string) string { return "" }}
	_, _, err := a.openStore(context.Background(), "mysql://user:s3cret@h/db")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error %v shows the password", err)
	}
}

// inProcess runs idem in this process, as the tests' examples do.
func inProcess(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	// Bounded: a command that should have been refused may serve instead.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := a.main(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // a substring, "" for none expected
		stderr string
	}{
		{"no command", nil, exitUsage, "", "usage: idem"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"help", []string{"help"}, exitOK, "exit codes of idem itself", ""},
		{"-h", []string{"-h"}, exitOK, "usage: idem", ""},
		{"help run", []string{"help", "run"}, exitOK, "--remember-failure", ""},
		{"run -h", []string{"run", "-h"}, exitOK, "--no-takeover", ""},
		{"help unknown", []string{"help", "nope"}, exitUsage, "", "no help"},
		{"unknown flag", []string{"run", "--frob", "--", "true"}, exitUsage, "", "flag provided but not defined"},
		{"run without command", []string{"--store", store, "run", "--key", "k"}, exitUsage, "", "no command"},
		{"key and name", []string{"--store", store, "run", "--key", "k", "--name", "n", "--", "true"}, exitUsage, "", "exclude"},
		{"bad ttl", []string{"run", "--ttl", "0", "--", "true"}, exitUsage, "", "invalid TTL"},
		{"short lease", []string{"run", "--lease", "0s", "--", "true"}, exitUsage, "", "--lease"},
		{"negative wait", []string{"run", "--wait", "-1s", "--", "true"}, exitUsage, "", "--wait"},
		{"huge output", []string{"run", "--max-output", "1G", "--", "true"}, exitUsage, "", "--max-output"},
		{"ttl below lease", []string{"run", "--ttl", "2s", "--", "true"}, exitUsage, "", "shorter than Lease"},
		{"proxy ttl below lease", []string{"proxy", "--target", "http://x", "--ttl", "2s"}, exitUsage, "", "shorter than Lease"},
		{"get without key", []string{"--store", store, "get"}, exitUsage, "", "KEY"},
		{"get value and output", []string{"get", "--value", "--output", "k"}, exitUsage, "", "exclude"},
		{"forget without key", []string{"forget"}, exitUsage, "", "KEY"},
		{"list two prefixes", []string{"list", "a", "b"}, exitUsage, "", "PREFIX"},
		{"sweep with argument", []string{"sweep", "x"}, exitUsage, "", "no arguments"},
		{"key without command", []string{"key"}, exitUsage, "", "no command"},
		{"proxy without target", []string{"proxy"}, exitUsage, "", "--target is required"},
		{"proxy bad target", []string{"proxy", "--target", "ftp://x"}, exitUsage, "", "not an http"},
		{"proxy no methods", []string{"proxy", "--target", "http://x", "--methods", ","}, exitUsage, "", "no method"},
		{"proxy short lease", []string{"proxy", "--target", "http://x", "--lease", "0s"}, exitUsage, "", "--lease must be at least 1ms"},
		{"proxy negative wait", []string{"proxy", "--target", "http://x", "--wait", "-1s"}, exitUsage, "", "--wait must not be negative"},
		{"proxy bad metrics address", []string{"--store", "redis://127.0.0.1:1", "proxy", "--target", "http://x", "--metrics-listen", "nowhere"}, exitUsage, "", "--metrics-listen"},
		{"proxy with argument", []string{"proxy", "--target", "http://x", "extra"}, exitUsage, "", "takes no arguments"},
		{"proxy bad scope header", []string{"proxy", "--target", "http://x", "--scope-header", "X-Api Key"}, exitUsage, "", "--scope-header \"X-Api Key\" is not a header field name"},
		{"unknown store", []string{"--store", "mysql://h/db", "get", "k"}, exitUsage, "", "unknown scheme"},
		{"store flag after command", []string{"get", "--store", store, "k"}, exitNoRecord, "", "record not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := inProcess(t, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestCommandUsageComplete(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"run", "key", "get", "forget", "list", "sweep", "proxy", "version", "help"} {
		if !strings.Contains(usageText, "  "+cmd+" ") || commandUsage[cmd] == "" {
			t.Errorf("command %q lacks help", cmd)
		}
	}
}

// TestReplayOfForeignRecord: a key written by another program is not
// replayed as if idem run had written it, and the command does not run.
func TestReplayOfForeignRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := filestore.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := idempotency.New(s, nil)
	argv := func(key string) []string { return []string{"touch", filepath.Join(dir, "ran-"+key)} }
	// Written with the fingerprint idem run would use for the command
	// line, so that only the value tells them apart.
	if _, err := idempotency.Do(context.Background(), g, "foreign", func(context.Context) (string, error) { return "hello", nil },
		idempotency.WithFingerprint(argv("foreign"))); err != nil {
		t.Fatal(err)
	}
	if _, err := idempotency.Do(context.Background(), g, "json", func(context.Context) (map[string]int, error) { return map[string]int{"exit": 0}, nil },
		idempotency.WithFingerprint(argv("json"))); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, key := range []string{"foreign", "json"} {
		marker := argv(key)[1]
		r := inProcess(t, "--store", dir, "run", "--key", key, "--", "touch", marker)
		if r.code != exitSoftware || !strings.Contains(r.stderr, "not written by idem run") {
			t.Errorf("%s: exit %d, stderr %q", key, r.code, r.stderr)
		}
		if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the command ran", key)
		}
	}
}
