//go:build linux

package bench

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// TestProcessTreeCPUEndedBackend: a backend that does its work and ends
// between two readings (a connection the pool closed, an autovacuum
// worker) still counts in the server's CPU time: the postmaster reaps it,
// and its time is the postmaster's children's time.
func TestProcessTreeCPUEndedBackend(t *testing.T) {
	t.Parallel()
	srv := testserver.StartPostgres(t, nil)
	cpu := processTreeCPU(srv.Pid)
	before, ok := cpu()
	if !ok {
		t.Fatal("no reading of the postmaster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.DSN("", ""))
	if err != nil {
		t.Fatal(err)
	}
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	// CPU time, whatever the load: the backend sums 5 million numbers.
	if _, err := conn.Exec(ctx, "SELECT sum(i) FROM generate_series(1, 5000000) i"); err != nil {
		t.Fatal(err)
	}
	mid, ok := cpu()
	if !ok {
		t.Fatal("no reading of the postmaster")
	}
	used, ok := mid[backend]
	if !ok {
		t.Fatalf("the reading lacks the live backend %d", backend)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Gone from /proc only once the postmaster reaped it (a zombie keeps
	// its entry), and so its time is the postmaster's children's: a
	// reading that merely missed it (it was exiting) could come before.
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(backend)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("backend %d still runs 20 s after its connection closed", backend)
		}
		time.Sleep(10 * time.Millisecond)
	}
	after, ok := cpu()
	if !ok {
		t.Fatal("no reading of the postmaster")
	}
	// Its time in ticks of 10 ms once reaped: allow one.
	if got := spent(before, after); got < used-10*time.Millisecond {
		t.Fatalf("server CPU over the backend's life = %v; the backend alone used %v", got, used)
	}
	// Nor twice: its time up to the middle reading, which had it live,
	// is not counted again once it is its parent's.
	if got := spent(mid, after); got > used/2 {
		t.Fatalf("server CPU from the middle reading on = %v; the backend, idle then, used %v in all", got, used)
	}
}

// TestProcStatOddName: /proc/PID/stat fields count from the last ')',
// since a command name may hold spaces and parentheses.
func TestProcStatOddName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, stat      string
		ppid            int
		ticks, children int64
		ok              bool
	}{
		{"Plain", "42 (postgres) S 7 42 42 0 -1 4194560 100 5 0 0 11 22 33 44 20 0 1 0 9 0 0", 7, 33, 77, true},
		{"Spaces", "42 (postgres: a b) S 7 42 42 0 -1 4194560 100 5 0 0 11 22 33 44 20 0 1 0 9 0 0", 7, 33, 77, true},
		{"Paren", "42 (x) S 1 (y)) R 8 42 42 0 -1 4194560 100 5 0 0 1 2 3 4 20 0 1 0 9 0 0", 8, 3, 7, true},
		{"Short", "42 (x) S 8 42", 0, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ppid, ticks, children, ok := parseProcStat([]byte(tc.stat))
			if ppid != tc.ppid || ticks != tc.ticks || children != tc.children || ok != tc.ok {
				t.Fatalf("parseProcStat = %d, %d, %d, %v; want %d, %d, %d, %v",
					ppid, ticks, children, ok, tc.ppid, tc.ticks, tc.children, tc.ok)
			}
		})
	}
}

// TestRedisCPUUnits: Redis's own account of its CPU time (INFO cpu, in
// seconds) agrees with the kernel's (/proc) over a script that keeps the
// server busy.
func TestRedisCPUUnits(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	info, kernel := redisCPU(c), processTreeCPU(srv.Pid)
	i0, ok1 := info()
	k0, ok2 := kernel()
	if !ok1 || !ok2 {
		t.Fatalf("readings: INFO %v, /proc %v", ok1, ok2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Eval(ctx, "local x = 0 for i = 1, 20000000 do x = x + i end return 1", nil).Err(); err != nil {
		t.Fatal(err)
	}
	i1, _ := info()
	k1, _ := kernel()
	byInfo, byKernel := spent(i0, i1), spent(k0, k1)
	if byKernel < 50*time.Millisecond || byInfo < byKernel/2 || byInfo > byKernel*2 {
		t.Fatalf("server CPU: %v by INFO, %v by /proc", byInfo, byKernel)
	}
}
