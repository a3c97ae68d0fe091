package testserver

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// query runs sql through psql against p as role in db and returns the
// trimmed output.
func query(t *testing.T, p *Postgres, dsn, sql string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(p.bin, "psql"), "-X", "-A", "-t", "-d", dsn, "-c", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v: %s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	p := StartPostgres(t, &PostgresOptions{Settings: map[string]string{"synchronous_commit": "off"}})
	if got := query(t, p, p.DSN("", ""), "SHOW synchronous_commit"); got != "off" {
		t.Fatalf("synchronous_commit = %q; want the setting passed", got)
	}
	if got := query(t, p, p.DSN("", ""), "SELECT current_setting('data_directory')"); !strings.HasPrefix(got, p.dir) {
		t.Fatalf("data directory %q outside the temp dir %q", got, p.dir)
	}

	dsn := p.CreateDB(t)
	if got := query(t, p, dsn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"); got != "f" {
		t.Fatalf("CreateDB role is superuser: %q", got)
	}
	query(t, p, dsn, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)")
	if other := p.CreateDB(t); other == dsn {
		t.Fatal("CreateDB returned the same database twice")
	}

	// A crash and a restart keep committed data, on the same port.
	pid := p.pid
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("postmaster %d still running after Kill", pid)
	}
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := query(t, p, dsn, "SELECT v FROM t"); got != "42" {
		t.Fatalf("after restart t holds %q; want 42", got)
	}

	dir, pid := p.dir, p.pid
	p.Stop()
	p.Stop() // twice is fine
	if alive(pid) || p.pid != 0 {
		t.Fatal("server still running after Stop")
	}
	if out, err := exec.Command("ls", dir).CombinedOutput(); err == nil {
		t.Fatalf("temp dir %s left behind: %s", dir, out)
	}
}
