//go:build unix

package bench

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// serverCPU returns the CPU time each of a server's processes has used so
// far, by process id; false when it cannot tell.
type serverCPU func() (map[int]time.Duration, bool)

// spent returns the CPU time used between two readings: all of after's
// less all of before's. A process that started meanwhile counts from
// zero; one that ended is in neither reading's own entry but in its
// parent's account of reaped children (see processTreeCPU), which holds
// its whole life: its time before the first reading is taken off again.
func spent(before, after map[int]time.Duration) time.Duration {
	var d time.Duration
	for _, t := range after {
		d += t
	}
	for _, t := range before {
		d -= t
	}
	return d
}

// meterCPU returns a function that, called after b's calls, reports the
// CPU time they cost per call: this process's (client-cpu-ns/op: the
// guard, the store, the client library and the driver, the collector
// included) and the server's (server-cpu-ns/op) when server can tell.
// Unlike time per call, CPU time leaves out waiting, so the two figures
// say on which side of the connection the guard's extra time is spent.
func meterCPU(b *testing.B, server serverCPU) func() {
	c0 := selfCPU()
	s0, ok := server()
	return func() {
		n := float64(b.N)
		b.ReportMetric(float64(selfCPU()-c0)/n, "client-cpu-ns/op")
		if s1, ok1 := server(); ok && ok1 {
			b.ReportMetric(float64(spent(s0, s1))/n, "server-cpu-ns/op")
		}
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU reads the server's own account of its CPU time (INFO cpu:
// used_cpu_user and used_cpu_sys, in seconds with six decimals).
func redisCPU(c *redis.Client) serverCPU {
	return func() (map[int]time.Duration, bool) {
		info, err := c.Info(context.Background(), "cpu").Result()
		if err != nil {
			return nil, false
		}
		var total time.Duration
		found := 0
		for line := range strings.Lines(info) {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k != "used_cpu_user" && k != "used_cpu_sys" {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, false
			}
			total += time.Duration(f * 1e9)
			found++
		}
		return map[int]time.Duration{0: total}, found == 2
	}
}

// processTreeCPU sums the CPU time of process pid and of its children (a
// postmaster and its backends) from /proc: Linux only. Each process's
// scheduler total (/proc/PID/sched, in nanoseconds) is read where the
// kernel has it, else its utime and stime (/proc/PID/stat, in ticks of
// 10 ms), the same way for every reading of a run. The children that
// ended (a backend whose connection closed, an autovacuum worker) count
// too: once the postmaster reaped them, their time is its cutime and
// cstime, kept under -pid.
func processTreeCPU(pid func() int) serverCPU {
	_, err := os.Stat("/proc/self/sched")
	precise := err == nil
	return func() (map[int]time.Duration, bool) {
		root := pid()
		if root == 0 {
			return nil, false
		}
		dirs, err := os.ReadDir("/proc")
		if err != nil {
			return nil, false
		}
		cpu := map[int]time.Duration{}
		for _, d := range dirs {
			p, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			ppid, ticks, children, ok := procStat(p)
			if !ok || (p != root && ppid != root) {
				continue
			}
			cpu[p] = time.Duration(ticks) * 10 * time.Millisecond
			if p == root {
				cpu[-p] = time.Duration(children) * 10 * time.Millisecond
			}
			if precise {
				if ns, ok := procSched(p); ok {
					cpu[p] = ns
				}
			}
		}
		_, seen := cpu[root]
		return cpu, seen
	}
}

// procStat reads a process's parent, its utime+stime and the
// cutime+cstime of its children it reaped, in clock ticks (USER_HZ, 100
// per second on Linux).
func procStat(pid int) (ppid int, ticks, children int64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	return parseProcStat(b)
}

// parseProcStat parses the contents of /proc/PID/stat for procStat.
func parseProcStat(b []byte) (ppid int, ticks, children int64, ok bool) {
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'. After it: state ppid ... utime (12th) stime
	// cutime cstime.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, 0, 0, false
	}
	var n [4]int64
	for j := range n {
		v, err := strconv.ParseInt(f[11+j], 10, 64)
		if err != nil {
			return 0, 0, 0, false
		}
		n[j] = v
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, 0, false
	}
	return ppid, n[0] + n[1], n[2] + n[3], true
}

// procSched reads se.sum_exec_runtime (milliseconds, with a fraction)
// from /proc/PID/sched.
func procSched(pid int) (time.Duration, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/sched")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "se.sum_exec_runtime" {
			continue
		}
		ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, false
		}
		return time.Duration(ms * 1e6), true
	}
	return 0, false
}
