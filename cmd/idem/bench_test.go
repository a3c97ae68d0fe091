package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// The cost of idem run is that of starting a process or two: these
// benchmarks compare it with running the command alone. Report them as
// ratios against BenchmarkBaselineExec of the same run.

// BenchmarkBaselineExec runs `true` directly: the floor.
func BenchmarkBaselineExec(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunFirst runs `true` under idem with a fresh key each time:
// claim, execute, record (two fsynced writes in a directory store).
func BenchmarkRunFirst(b *testing.B) {
	store := filepath.Join(b.TempDir(), "store")
	i := 0
	for b.Loop() {
		i++
		if err := exec.Command(idemBin, "--store", store, "run", "--key", "k"+strconv.Itoa(i), "--", "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunDuplicate replays a recorded run: one read, no command.
func BenchmarkRunDuplicate(b *testing.B) {
	store := filepath.Join(b.TempDir(), "store")
	args := []string{"--store", store, "run", "--key", "k", "--", "true"}
	if err := exec.Command(idemBin, args...).Run(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := exec.Command(idemBin, args...).Run(); err != nil {
			b.Fatal(err)
		}
	}
}
