package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency/internal/testserver"
)

// oneLine fails the test unless stderr is a single line starting "idem: "
// and containing want.
func oneLine(t *testing.T, r result, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "idem: ") || !strings.Contains(lines[0], want) {
		t.Fatalf("stderr %q, want one line starting \"idem: \" with %q", r.stderr, want)
	}
}

// TestStoreValueMistakes: a --store value that is neither a directory
// (absolute, ./relative) nor a URL of a known scheme is a usage error in
// one line; no directory is created for it and nothing runs.
func TestStoreValueMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, store, want string
	}{
		{"host and port", "localhost:6379", "neither a directory"},
		{"one slash", "redis:/127.0.0.1:6379", "neither a directory"},
		{"bare relative path", "store", "neither a directory"},
		{"opaque file URL", "file:store", "absolute path"},
		{"remote file URL", "file://otherhost/store", "local directory"},
		{"unknown scheme", "mysql://h/db", "unknown scheme"},
		{"bad table", "postgres://postgres@127.0.0.1:1/db?table=Bad-Name", "invalid Options.Table"},
		{"table with three parts", "postgres://postgres@127.0.0.1:1/db?table=a.b.c", "at most schema.table"},
		{"password kept out", "redis:/user:s3cret@127.0.0.1:6379", "neither a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.store = tt.store
			for _, args := range [][]string{
				{"run", "--key", "k", "--", "sh", "-c", effect},
				{"get", "k"},
				{"list"},
				{"forget", "k"},
			} {
				r := e.idem(args...).want(t, exitUsage)
				oneLine(t, r, tt.want)
				if strings.Contains(r.stderr, "s3cret") {
					t.Fatalf("stderr shows the password: %q", r.stderr)
				}
			}
			if n := len(e.lines("effects")); n != 0 {
				t.Fatalf("the command ran %d times", n)
			}
			entries, _ := os.ReadDir(e.dir)
			if len(entries) != 0 {
				t.Fatalf("%s holds %v, want nothing created", e.dir, entries)
			}
		})
	}
}

// TestStoreDirectoryForms: the directory forms that are accepted all name
// the same store.
func TestStoreDirectoryForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, store := range []string{"./s", "../" + filepath.Base(e.dir) + "/s", filepath.Join(e.dir, "s"), "file://" + filepath.Join(e.dir, "s"), "file:" + filepath.Join(e.dir, "s")} {
		e.store = store
		e.idem("run", "--key", "k", "--", "sh", "-c", effect).want(t, 0)
		if n := len(e.lines("effects")); n != 1 {
			t.Fatalf("form %d (%s): %d effects, want 1: not the same store", i, store, n)
		}
	}
}

// TestOneMessagePerFailure: a store that cannot be reached is reported
// once, by idem, not also by the guard's logger or the client library's.
func TestOneMessagePerFailure(t *testing.T) {
	t.Parallel()
	port := testserver.FreePort(t)
	e := newEnv(t)
	e.store = "redis://" + testserver.Addr(port) + "/0?dial_timeout=1s&max_retries=1"
	oneLine(t, e.idem("run", "--key", "k", "--", "sh", "-c", effect).want(t, exitUnavailable), "connect")
	// -v shows the detail too.
	if r := e.idem("-v", "run", "--key", "k", "--", "sh", "-c", effect).want(t, exitUnavailable); strings.Count(r.stderr, "\n") < 2 {
		t.Fatalf("-v stderr %q, want the log lines too", r.stderr)
	}
}

func TestProxyListenErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	b := newBackend(t)
	e := newEnv(t)
	r := e.idem("proxy", "--listen", busy.Addr().String(), "--target", b.srv.URL).want(t, exitListen)
	oneLine(t, r, "address already in use")
	oneLine(t, e.idem("proxy", "--listen", "8081", "--target", b.srv.URL).want(t, exitUsage), "HOST:PORT")
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := inProcess(t, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "idem ") || !strings.Contains(r.stdout, "go1.") {
			t.Fatalf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
	e := newEnv(t)
	if r := e.idem("version").want(t, 0); !strings.HasPrefix(r.stdout, "idem (devel)") {
		t.Fatalf("a build from the checkout says %q", r.stdout)
	}
	oneLine(t, inProcess(t, "version", "x"), "no arguments")
}

// TestRecordShowsCommand: the record of idem run keeps the command line
// that ran, get and list show it, and the token is a JSON string.
func TestRecordShowsCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	argv := []string{"sh", "-c", effect, "arg with spaces"}
	e.idem(append([]string{"run", "--key", "k", "--"}, argv...)...).want(t, 0)
	for _, args := range [][]string{{"get", "k"}, {"list"}} {
		out := e.idem(args...).want(t, 0).stdout
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &raw); err != nil {
			t.Fatal(err)
		}
		if tok := string(raw["token"]); !strings.HasPrefix(tok, `"`) || tok == `"0"` {
			t.Fatalf("%v: token %s, want a string of digits", args, tok)
		}
		v := decodeViews(t, out)[0]
		if v.Run == nil || strings.Join(v.Run.Command, "\x00") != strings.Join(argv, "\x00") {
			t.Fatalf("%v: run %+v, want command %q", args, v.Run, argv)
		}
	}
}

func TestForgetMissingKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.idem("run", "--key", "k", "--", "sh", "-c", effect).want(t, 0)
	r := e.idem("forget", "nope", "k").want(t, exitNoRecord)
	oneLine(t, r, `"nope": no record`)
	// The key that existed was forgotten all the same.
	e.idem("get", "k").want(t, exitNoRecord)
	e.idem("forget", "k").want(t, exitNoRecord)
}

// TestPostgresTableProbe: checking ?table= leaves no connection or
// goroutine behind (goleak in TestMain) and reaches no server.
func TestPostgresTableProbe(t *testing.T) {
	t.Parallel()
	a := &app{getenv: func(string) string { return "" }}
	_, _, err := a.openStore(context.Background(), "postgres://postgres@127.0.0.1:1/db?table=UPPER&connect_timeout=1")
	if exitCode(err) != exitUsage {
		t.Fatalf("err %v: exit code %d, want %d", err, exitCode(err), exitUsage)
	}
}
