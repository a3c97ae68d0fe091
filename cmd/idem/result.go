package main

import (
	"encoding/json"
	"fmt"

	"github.com/idempotency-go/idempotency"
)

// resultFormat is the version of the runResult encoding.
const resultFormat = 1

// runResult is what idem run records for a command: its exit code and the
// start of its output. It is stored as JSON (the guard's default codec);
// output is base64 in it, so any bytes survive.
type runResult struct {
	// Format is resultFormat; records without it were not written by idem
	// run.
	Format int `json:"idem_run"`
	// Exit is the command's exit code, 128+n when signal n killed it.
	Exit int `json:"exit"`
	// Argv is the command line that ran. Records written before it was
	// kept lack it.
	Argv []string `json:"argv,omitempty"`
	// Stdout and Stderr are the first --max-output bytes of the output.
	Stdout []byte `json:"stdout,omitempty"`
	Stderr []byte `json:"stderr,omitempty"`
	// StdoutTruncated and StderrTruncated report output beyond them.
	StdoutTruncated bool `json:"stdout_truncated,omitempty"`
	StderrTruncated bool `json:"stderr_truncated,omitempty"`
}

// errNotRunResult: a record decodes but was not written by idem run.
var errNotRunResult = fmt.Errorf("idempotency: the record was not written by idem run: %w", idempotency.ErrResultUnavailable)

// check reports whether r is a result idem run could have written.
func (r *runResult) check() error {
	switch {
	case r.Format != resultFormat:
		return errNotRunResult
	case r.Exit < 0 || r.Exit > 255:
		return fmt.Errorf("idempotency: recorded exit code %d out of range 0..255: %w", r.Exit, idempotency.ErrCorrupt)
	}
	return nil
}

// decodeResult decodes a stored value written by idem run.
func decodeResult(data []byte) (runResult, error) {
	var r runResult
	if err := json.Unmarshal(data, &r); err != nil {
		return runResult{}, fmt.Errorf("%w (%v)", errNotRunResult, err)
	}
	return r, r.check()
}
