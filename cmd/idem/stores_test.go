package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/idempotency-go/idempotency/internal/testserver"
)

// exerciseStore runs the CLI's main paths against the store e names:
// duplicates across processes, a failure released, list, get, forget and
// sweep.
func exerciseStore(t *testing.T, e *env) {
	t.Helper()
	args := []string{"run", "--key", "job:1", "--wait", "2m", "--", "sh", "-c", effect + "; sleep 0.5"}
	var wg sync.WaitGroup
	results := make([]result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = finish(t, e.command(args...))
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 || r.stdout != "out\n" || r.stderr != "err\n" {
			t.Errorf("process %d: %+v", i, r)
		}
	}
	if n := len(e.lines("effects")); n != 1 {
		t.Fatalf("%d effects from %d processes, want 1", n, len(results))
	}
	e.idem("run", "--key", "job:2", "--", "sh", "-c", "echo y >> effects2; exit 5").want(t, 5)
	e.idem("run", "--key", "job:2", "--", "sh", "-c", "echo y >> effects2; exit 5").want(t, 5)
	if n := len(e.lines("effects2")); n != 2 {
		t.Fatalf("%d effects of a failing command run twice, want 2", n)
	}
	e.idem("run", "--key", "other", "--", "true").want(t, 0)

	if got := keysOf(decodeViews(t, e.idem("list", "job:").want(t, 0).stdout)); len(got) != 1 || got[0] != "job:1" {
		t.Fatalf("list job: %q", got)
	}
	v := decodeViews(t, e.idem("get", "job:1").want(t, 0).stdout)
	if len(v) != 1 || v[0].Status != "completed" || v[0].Run == nil || v[0].Run.StdoutBytes != 4 {
		t.Fatalf("get: %+v", v)
	}
	e.idem("forget", "job:1").want(t, 0)
	e.idem("get", "job:1").want(t, exitNoRecord)
	e.idem("sweep").want(t, 0)
	e.idem(args...).want(t, 0)
	if n := len(e.lines("effects")); n != 2 {
		t.Fatalf("%d effects after forget and a run, want 2", n)
	}
}

func TestRedisStore(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t)
	tests := []struct{ name, url string }{
		{"default prefix", "redis://" + r.Addr() + "/0"},
		{"own prefix and db", "redis://" + r.Addr() + "/3?prefix=app1:&dial_timeout=5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.store = tt.url
			exerciseStore(t, e)
		})
	}
}

func TestRedisClusterStore(t *testing.T) {
	t.Parallel()
	c := testserver.StartRedisCluster(t, 3)
	e := newEnv(t)
	e.store = "redis+cluster://" + strings.Join(c.Addrs(), ",") + "?prefix=c:"
	exerciseStore(t, e)
}

func TestPostgresStore(t *testing.T) {
	t.Parallel()
	pg := testserver.StartPostgres(t, nil)
	dsn := pg.CreateDB(t)
	tests := []struct{ name, url string }{
		{"default table", dsn},
		{"own table", dsn + "&table=idem_runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.store = tt.url
			exerciseStore(t, e)
		})
	}
	// The own table holds its records apart.
	e := newEnv(t)
	e.store = dsn + "&table=idem_runs"
	e.idem("get", "other").want(t, 0)
	e.store = dsn + "&table=idem_empty"
	e.idem("get", "other").want(t, exitNoRecord)
}

func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	port := testserver.FreePort(t)
	tests := []struct{ name, url string }{
		{"redis", fmt.Sprintf("redis://127.0.0.1:%d/0", port)},
		{"postgres", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", port)},
		{"directory not creatable", "/dev/null/store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.store = tt.url
			e.idem("run", "--key", "k", "--", "sh", "-c", effect).want(t, exitUnavailable)
			if n := len(e.lines("effects")); n != 0 {
				t.Fatalf("the command ran %d times with the store down", n)
			}
			e.idem("get", "k").want(t, exitUnavailable)
		})
	}
}
