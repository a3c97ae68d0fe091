package testserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Environment variables that steer where servers come from. Tests never
// install anything: a server that is not found skips the test, unless
// EnvRequireServers makes that a failure (scripts/test sets it, after
// installing what is missing).
const (
	// EnvRedis names the redis-server binary, or the directory that holds
	// it (and redis-cli). Default: redis-server on PATH.
	EnvRedis = "IDEM_TEST_REDIS"
	// EnvPostgres names the directory of the PostgreSQL server binaries
	// (initdb, pg_ctl, postgres), or one of them. Default: initdb on PATH,
	// else the newest /usr/lib/postgresql/*/bin.
	EnvPostgres = "IDEM_TEST_PG"
	// EnvRequireServers set to 1 turns a missing server into a test
	// failure instead of a skip.
	EnvRequireServers = "IDEM_TEST_REQUIRE_SERVERS"
)

// ErrMissing matches the error of a server whose binaries were not found.
var ErrMissing = errors.New("testserver: server not installed")

// Required reports whether a missing server fails tests
// (IDEM_TEST_REQUIRE_SERVERS=1) rather than skipping them.
func Required() bool { return os.Getenv(EnvRequireServers) == "1" }

// Skippable reports whether err, from NewPostgres, means the server is not
// installed and tests may be skipped; a TestMain without a server then
// reports err and exits 0.
func Skippable(err error) bool { return errors.Is(err, ErrMissing) && !Required() }

// need skips or fails t when err (from a finder) is not nil.
func need(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Skippable(err) {
		t.Skip(err.Error())
	}
	t.Fatal(err.Error())
}

// finder looks for server binaries; its fields are the process's own
// lookups, replaced in tests.
type finder struct {
	getenv   func(string) string
	lookPath func(string) (string, error)
	pgGlob   string // where distributions install PostgreSQL
}

var system = finder{getenv: os.Getenv, lookPath: exec.LookPath, pgGlob: "/usr/lib/postgresql/*/bin"}

func missing(server, looked, env string) error {
	return fmt.Errorf("%w: no %s (looked %s); install it (./scripts/test does) or set %s", ErrMissing, server, looked, env)
}

// redis returns the paths of redis-server and redis-cli.
func (f finder) redis() (server, cli string, err error) {
	if v := f.getenv(EnvRedis); v != "" {
		server = v
		if st, err := os.Stat(v); err == nil && st.IsDir() {
			server = filepath.Join(v, "redis-server")
		}
		if !executable(server) {
			// Set but wrong is a mistake to report, not a reason to skip.
			return "", "", fmt.Errorf("testserver: %s=%s: no executable redis-server there", EnvRedis, v)
		}
	} else if server, err = f.lookPath("redis-server"); err != nil {
		return "", "", missing("redis-server", "on PATH", EnvRedis)
	}
	if cli = filepath.Join(filepath.Dir(server), "redis-cli"); !executable(cli) {
		if cli, err = f.lookPath("redis-cli"); err != nil {
			cli = "" // only clusters and Sentinel need it
		}
	}
	return server, cli, nil
}

// postgres returns the directory of the PostgreSQL server binaries.
func (f finder) postgres() (string, error) {
	if v := f.getenv(EnvPostgres); v != "" {
		dir := v
		if st, err := os.Stat(v); err == nil && !st.IsDir() {
			dir = filepath.Dir(v)
		}
		if !pgDir(dir) {
			return "", fmt.Errorf("testserver: %s=%s: no initdb and pg_ctl there", EnvPostgres, v)
		}
		return dir, nil
	}
	// Distributions keep initdb off PATH (Debian wraps pg_ctl there), so
	// PATH counts only when initdb is on it. A link on PATH leads to the
	// directory that holds the rest of the installation (psql).
	if p, err := f.lookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && pgDir(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob(f.pgGlob)
	// Newest major version first: 15 before 9.6.
	slices.SortFunc(dirs, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	for _, d := range dirs {
		if pgDir(d) {
			return d, nil
		}
	}
	return "", missing("PostgreSQL server (initdb, pg_ctl)", "on PATH and in "+f.pgGlob, EnvPostgres)
}

func pgDir(dir string) bool {
	return executable(filepath.Join(dir, "initdb")) && executable(filepath.Join(dir, "pg_ctl"))
}

// pgVersion is the major version in a path like /usr/lib/postgresql/15/bin.
func pgVersion(binDir string) int {
	v := filepath.Base(filepath.Dir(binDir))
	major, _, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(major)
	return n
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
