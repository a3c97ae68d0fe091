package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The first run of a command line executes it; the second prints the
// recorded output and exit code without executing it.
func Example_run() {
	dir, err := os.MkdirTemp("", "idem-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	effects := filepath.Join(dir, "effects")
	a := &app{stdin: strings.NewReader(""), stdout: os.Stdout, stderr: os.Stdout, getenv: func(string) string { return "" }}
	run := func(key, script string) {
		code := a.main(context.Background(), []string{"--store", filepath.Join(dir, "store"),
			"run", "--key", key, "--", "sh", "-c", "echo ran >> " + effects + "; " + script})
		fmt.Println("exit code", code)
	}
	run("report", "echo report ready")
	run("report", "echo report ready") // replayed
	run("flaky", "echo failed; exit 2")
	run("flaky", "echo failed; exit 2") // failures are not recorded: runs again
	b, _ := os.ReadFile(effects)
	fmt.Printf("the commands ran %d times\n", strings.Count(string(b), "ran"))
	// Output:
	// report ready
	// exit code 0
	// report ready
	// exit code 0
	// failed
	// exit code 2
	// failed
	// exit code 2
	// the commands ran 3 times
}
