package testserver

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBins writes executables named names into a fresh directory.
func fakeBins(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeFinder looks only where the test says: env, one PATH directory and
// a glob.
func fakeFinder(env map[string]string, path, glob string) finder {
	return finder{
		getenv: func(k string) string { return env[k] },
		lookPath: func(name string) (string, error) {
			if p := filepath.Join(path, name); path != "" && executable(p) {
				return p, nil
			}
			return "", exec.ErrNotFound
		},
		pgGlob: glob,
	}
}

func TestFindRedis(t *testing.T) {
	t.Parallel()
	both := fakeBins(t, "redis-server", "redis-cli")
	serverOnly := fakeBins(t, "redis-server")
	empty := t.TempDir()
	tests := []struct {
		name       string
		env        map[string]string
		path       string
		server     string
		cli        string
		errMissing bool // else any error is a configuration error
		wantErr    bool
	}{
		{"on PATH", nil, both, filepath.Join(both, "redis-server"), filepath.Join(both, "redis-cli"), false, false},
		{"env directory", map[string]string{EnvRedis: both}, empty, filepath.Join(both, "redis-server"), filepath.Join(both, "redis-cli"), false, false},
		{"env binary, cli from PATH", map[string]string{EnvRedis: filepath.Join(serverOnly, "redis-server")}, both, filepath.Join(serverOnly, "redis-server"), filepath.Join(both, "redis-cli"), false, false},
		{"no cli anywhere", map[string]string{EnvRedis: serverOnly}, empty, filepath.Join(serverOnly, "redis-server"), "", false, false},
		{"missing", nil, empty, "", "", true, true},
		{"env names nothing", map[string]string{EnvRedis: empty}, both, "", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server, cli, err := fakeFinder(tt.env, tt.path, "").redis()
			if (err != nil) != tt.wantErr || errors.Is(err, ErrMissing) != tt.errMissing {
				t.Fatalf("err = %v; want error %v, ErrMissing %v", err, tt.wantErr, tt.errMissing)
			}
			if server != tt.server || cli != tt.cli {
				t.Fatalf("found %q, %q; want %q, %q", server, cli, tt.server, tt.cli)
			}
			if tt.errMissing && !strings.Contains(err.Error(), EnvRedis) {
				t.Errorf("message %q does not say how to point at a server", err)
			}
		})
	}
}

func TestFindPostgres(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "13"} {
		d := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"initdb", "pg_ctl"} {
			if err := os.WriteFile(filepath.Join(d, n), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	glob := filepath.Join(root, "*", "bin")
	onPath := fakeBins(t, "initdb", "pg_ctl")
	wrapperOnly := fakeBins(t, "pg_ctl") // Debian's PATH: a wrapper, no initdb
	empty := t.TempDir()
	tests := []struct {
		name       string
		env        map[string]string
		path, glob string
		want       string
		errMissing bool
		wantErr    bool
	}{
		{"newest in the glob", nil, wrapperOnly, glob, filepath.Join(root, "15", "bin"), false, false},
		{"PATH first", nil, onPath, glob, onPath, false, false},
		{"env directory", map[string]string{EnvPostgres: onPath}, empty, glob, onPath, false, false},
		{"env binary", map[string]string{EnvPostgres: filepath.Join(onPath, "pg_ctl")}, empty, "", onPath, false, false},
		{"missing", nil, wrapperOnly, filepath.Join(empty, "*", "bin"), "", true, true},
		{"env names nothing", map[string]string{EnvPostgres: empty}, onPath, glob, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := fakeFinder(tt.env, tt.path, tt.glob).postgres()
			if (err != nil) != tt.wantErr || errors.Is(err, ErrMissing) != tt.errMissing || got != tt.want {
				t.Fatalf("postgres() = %q, %v; want %q, error %v, ErrMissing %v", got, err, tt.want, tt.wantErr, tt.errMissing)
			}
			if tt.errMissing && !strings.Contains(err.Error(), EnvPostgres) {
				t.Errorf("message %q does not say how to point at a server", err)
			}
		})
	}
}

// childEnv makes TestMissingServerChild start the server it names.
const childEnv = "TESTSERVER_TEST_CHILD"

// TestMissingServerChild runs only as a child of TestMissingServer, with
// no server binaries to be found.
func TestMissingServerChild(t *testing.T) {
	which := os.Getenv(childEnv)
	if which == "" {
		t.Skip("runs as a child of TestMissingServer")
	}
	system.pgGlob = filepath.Join(t.TempDir(), "*", "bin")
	switch which {
	case "redis":
		StartRedis(t)
	case "postgres":
		StartPostgres(t, nil)
	}
	t.Log("STARTED")
}

// packageManager is the installer scripts/test uses, which tests must never
// run; the fake one below records any call.
const packageManager = "apt" + "-get"

// TestMissingServer runs the test binary in a child process whose PATH
// holds no server but a fake package manager that leaves a mark: a missing server
// skips the test with a message naming the variable that points at one,
// or fails it under IDEM_TEST_REQUIRE_SERVERS=1, and nothing is installed.
func TestMissingServer(t *testing.T) {
	t.Parallel()
	for _, server := range []string{"redis", "postgres"} {
		for _, require := range []bool{false, true} {
			name := server
			if require {
				name += " required"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				bin := t.TempDir()
				mark := filepath.Join(t.TempDir(), "installer-ran")
				script := "#!/bin/sh\necho \"$@\" >> " + mark + "\nexit 1\n"
				if err := os.WriteFile(filepath.Join(bin, packageManager), []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(os.Args[0], "-test.run=^TestMissingServerChild$", "-test.v", "-test.count=1")
				cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(), childEnv + "=" + server}
				if require {
					cmd.Env = append(cmd.Env, EnvRequireServers+"=1")
				}
				out, err := cmd.CombinedOutput()
				env := map[string]string{"redis": EnvRedis, "postgres": EnvPostgres}[server]
				switch {
				case strings.Contains(string(out), "STARTED"):
					t.Fatalf("a server started without binaries:\n%s", out)
				case !strings.Contains(string(out), env):
					t.Fatalf("output does not name %s:\n%s", env, out)
				case require && (err == nil || !strings.Contains(string(out), "--- FAIL: TestMissingServerChild")):
					t.Fatalf("required server missing: err %v, want a failure:\n%s", err, out)
				case !require && (err != nil || !strings.Contains(string(out), "--- SKIP: TestMissingServerChild")):
					t.Fatalf("missing server: err %v, want a skip:\n%s", err, out)
				}
				if b, err := os.ReadFile(mark); err == nil {
					t.Fatalf("%s ran: %s", packageManager, b)
				}
			})
		}
	}
}
