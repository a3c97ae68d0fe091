package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// PostgresOptions configures a PostgreSQL server. A nil *PostgresOptions
// means defaults.
type PostgresOptions struct {
	// Settings are extra server settings, passed as -c name=value (for
	// example "synchronous_commit": "off"). Default: none, besides fsync
	// (see Fsync).
	Settings map[string]string
	// Fsync keeps fsync on. Default false: test servers run with fsync=off,
	// which still survives a server crash (the kernel keeps what was
	// written), only not a machine crash.
	Fsync bool
}

// Postgres is a PostgreSQL server this process started, running as the
// postgres OS user when the process runs as root.
type Postgres struct {
	dir  string // temp dir: data/, log, the unix socket
	port int
	opts PostgresOptions
	bin  string

	mu      sync.Mutex
	pid     int
	stopped bool
	dbs     atomic.Int64
}

// StartPostgres starts a fresh PostgreSQL server on a free loopback port in
// a temp dir and stops it (by pid) and removes the dir in t.Cleanup. When
// no server binaries are found (see EnvPostgres) the test is skipped, or
// fails under EnvRequireServers. Starting one takes about a second: start
// one per test package and give each test its own database (CreateDB).
func StartPostgres(t testing.TB, opts *PostgresOptions) *Postgres {
	t.Helper()
	p, err := NewPostgres(opts)
	need(t, err)
	t.Cleanup(p.Stop)
	return p
}

// NewPostgres is StartPostgres for TestMain, where there is no testing.TB:
// the caller must call Stop. When the server is not installed the error
// matches ErrMissing; see Skippable.
func NewPostgres(opts *PostgresOptions) (*Postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	p := &Postgres{bin: bin}
	if opts != nil {
		p.opts = *opts
	}
	// t.TempDir is 0700 root: the server's own user could not enter it.
	if p.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, err
	}
	if err := os.Chmod(p.dir, 0o755); err != nil {
		p.removeDir()
		return nil, err
	}
	if err := chownToServer(p.dir); err != nil {
		p.removeDir()
		return nil, err
	}
	if out, err := p.asServer(filepath.Join(bin, "initdb"), "-D", p.dataDir(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		p.removeDir()
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	for range 5 {
		p.port, err = freePort()
		if err != nil {
			break
		}
		if err = p.start(); err == nil {
			return p, nil
		}
	}
	p.Stop()
	return nil, err
}

// DSN returns a connection string for database db as user role; empty db
// and role mean "postgres".
func (p *Postgres) DSN(db, role string) string {
	if db == "" {
		db = "postgres"
	}
	if role == "" {
		role = "postgres"
	}
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", role, Addr(p.port), db)
}

// Port returns the server's TCP port.
func (p *Postgres) Port() int { return p.port }

// Pid returns the postmaster's process id, 0 while the server is stopped.
// Its backends are its children.
func (p *Postgres) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// CreateDB creates a fresh database owned by a fresh unprivileged role
// (no superuser, no createdb, no createrole) and returns a DSN that
// connects to it as that role.
func (p *Postgres) CreateDB(t testing.TB) string {
	t.Helper()
	dsn, err := p.NewDB()
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	return dsn
}

// NewDB is CreateDB without a testing.TB.
func (p *Postgres) NewDB() (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), p.dbs.Add(1))
	sql := fmt.Sprintf("CREATE ROLE %[1]s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; CREATE DATABASE %[1]s OWNER %[1]s;", name)
	if err := p.psql("postgres", sql); err != nil {
		return "", err
	}
	// PostgreSQL 15 no longer lets every role create in schema public;
	// the owner of the database owns nothing else by default.
	if err := p.psql(name, "ALTER SCHEMA public OWNER TO "+name); err != nil {
		return "", err
	}
	return p.DSN(name, name), nil
}

// Exec runs sql as the superuser in database db (psql -c), for test setup.
func (p *Postgres) Exec(db, sql string) error { return p.psql(db, sql) }

func (p *Postgres) psql(db, sql string) error {
	// Each ; separated statement runs on its own (CREATE DATABASE cannot
	// run in the implicit transaction of a multi-statement string).
	args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "postgres", "-d", db}
	for _, s := range strings.Split(sql, ";") {
		if s = strings.TrimSpace(s); s != "" {
			args = append(args, "-c", s)
		}
	}
	out, err := exec.Command(filepath.Join(p.bin, "psql"), args...).CombinedOutput()
	if err != nil {
		if _, serr := os.Stat(filepath.Join(p.bin, "psql")); serr != nil {
			// psql lives in the client package; fall back to the one on PATH.
			out, err = exec.Command("psql", args...).CombinedOutput()
		}
	}
	if err != nil {
		return fmt.Errorf("psql %q: %v: %s", sql, err, out)
	}
	return nil
}

// Kill stops the server the way a crash does (immediate shutdown: no
// checkpoint, unflushed WAL lost). Restart starts it again.
func (p *Postgres) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kill()
}

func (p *Postgres) kill() error {
	if p.pid == 0 {
		return nil
	}
	out, err := p.asServer(filepath.Join(p.bin, "pg_ctl"), "-D", p.dataDir(), "-m", "immediate", "-w", "stop").CombinedOutput()
	if err != nil {
		// The postmaster is not answering its control files: end it by pid.
		if kerr := kill(p.pid); kerr != nil {
			return fmt.Errorf("pg_ctl stop: %v: %s; kill %d: %v", err, out, p.pid, kerr)
		}
		waitGone(p.pid)
	}
	p.pid = 0
	return nil
}

// Restart starts a killed or stopped server again on the same port and
// data directory.
func (p *Postgres) Restart() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pid != 0 {
		return errors.New("restart: server is running")
	}
	return p.startLocked()
}

// Stop shuts the server down (immediately: tests keep nothing) and removes
// its directory. It is safe to call more than once.
func (p *Postgres) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	_ = p.kill()
	p.removeDir()
}

// Log returns the server log, for failure messages.
func (p *Postgres) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "log"))
	return string(b)
}

func (p *Postgres) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startLocked()
}

func (p *Postgres) startLocked() error {
	o := []string{"-p", strconv.Itoa(p.port), "-k", p.dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	if !p.opts.Fsync {
		o = append(o, "-c", "fsync=off", "-c", "full_page_writes=off")
	}
	names := make([]string, 0, len(p.opts.Settings))
	for k := range p.opts.Settings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		o = append(o, "-c", k+"="+p.opts.Settings[k])
	}
	out, err := p.asServer(filepath.Join(p.bin, "pg_ctl"), "-D", p.dataDir(), "-o", strings.Join(o, " "), "-l", filepath.Join(p.dir, "log"), "-w", "-t", "60", "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start on port %d: %v: %s\n%s", p.port, err, out, p.Log())
	}
	b, err := os.ReadFile(filepath.Join(p.dataDir(), "postmaster.pid"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return fmt.Errorf("postmaster.pid: %v", err)
	}
	p.pid = pid
	return nil
}

func (p *Postgres) dataDir() string { return filepath.Join(p.dir, "data") }

func (p *Postgres) removeDir() {
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
}

// asServer runs a server binary as the postgres OS user when this process
// is root (PostgreSQL refuses to run as root), else as ourselves.
func (p *Postgres) asServer(name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Dir = p.dir
	return cmd
}

func chownToServer(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		// The postgresql package creates it; without it the server cannot run.
		return fmt.Errorf("%w: the postgres OS user is missing (%v); install PostgreSQL (./scripts/test does) or run the tests as another user", ErrMissing, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// postgresBin finds the server binaries, once per process.
var postgresBin = sync.OnceValues(func() (string, error) { return system.postgres() })

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitGone(pid int) {
	for range 500 {
		if !alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid runs. A zombie does not: a daemonised
// postmaster is reparented to pid 1, which in a container may never reap
// it.
func alive(pid int) bool {
	if !exists(pid) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}
