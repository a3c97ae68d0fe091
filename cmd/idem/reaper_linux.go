package main

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// becomeSubreaper makes orphaned descendants this process's children
// instead of init's, so that none escapes killTree by leaving the process
// group (setsid, a daemon's double fork).
func becomeSubreaper() {
	const prSetChildSubreaper = 36
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
}

// liveDescendants lists the descendants of pid that have not exited, from
// /proc.
func liveDescendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	live := map[int]bool{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold anything, even ")".
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		children[ppid] = append(children[ppid], p)
		live[p] = f[0][0] != 'Z' && f[0][0] != 'X'
	}
	var out []int
	queue := children[pid]
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if live[p] {
			out = append(out, p)
		}
		queue = append(queue, children[p]...)
	}
	return out
}

func sleepBriefly() { time.Sleep(5 * time.Millisecond) }
