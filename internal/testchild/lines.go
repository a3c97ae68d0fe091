package testchild

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// AppendLine appends one line to the file at path: the effect that
// cross-process tests count from outside the processes. O_APPEND writes
// of one short line from several processes do not interleave.
func AppendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Lines returns the lines of the file at path; a missing file has none.
func Lines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}
