package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/idempotency-go/idempotency"
)

// recordView is a record as get and list print it, one JSON object.
type recordView struct {
	Key string `json:"key"`
	// KeyBase64 holds the key's exact bytes when they are not UTF-8 (Key
	// then holds replacement characters).
	KeyBase64   string     `json:"key_base64,omitempty"`
	Status      string     `json:"status"`
	Token       uint64     `json:"token,string"` // a string: JSON numbers lose precision past 2^53
	Fingerprint string     `json:"fingerprint,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LeaseUntil  *time.Time `json:"lease_until,omitempty"` // in progress only
	ExpiresAt   *time.Time `json:"expires_at"`            // null: never
	ValueSize   int        `json:"value_size"`
	// Run summarises a value written by idem run.
	Run *runView `json:"run,omitempty"`
}

type runView struct {
	// Command is the command line that ran (null in records written
	// before idem kept it).
	Command         []string `json:"command"`
	Exit            int      `json:"exit"`
	StdoutBytes     int      `json:"stdout_bytes"`
	StderrBytes     int      `json:"stderr_bytes"`
	StdoutTruncated bool     `json:"stdout_truncated,omitempty"`
	StderrTruncated bool     `json:"stderr_truncated,omitempty"`
}

func viewOf(r idempotency.Record) recordView {
	v := recordView{
		Key:       r.Key,
		Status:    r.Status.String(),
		Token:     uint64(r.Token),
		CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(),
		ValueSize: len(r.Value),
	}
	if !utf8.ValidString(r.Key) {
		v.KeyBase64 = base64.StdEncoding.EncodeToString([]byte(r.Key))
	}
	// Fingerprints are digests; some are raw bytes.
	if utf8.ValidString(r.Fingerprint) {
		v.Fingerprint = r.Fingerprint
	} else {
		v.Fingerprint = "base64:" + base64.StdEncoding.EncodeToString([]byte(r.Fingerprint))
	}
	if r.Status == idempotency.StatusInProgress {
		t := r.LeaseUntil.UTC()
		v.LeaseUntil = &t
	}
	if !r.ExpiresAt.IsZero() {
		t := r.ExpiresAt.UTC()
		v.ExpiresAt = &t
	}
	if r.Status == idempotency.StatusCompleted && len(r.Value) > 0 {
		if res, err := decodeResult(r.Value); err == nil {
			v.Run = &runView{
				Command:     res.Argv,
				Exit:        res.Exit,
				StdoutBytes: len(res.Stdout), StderrBytes: len(res.Stderr),
				StdoutTruncated: res.StdoutTruncated, StderrTruncated: res.StderrTruncated,
			}
		}
	}
	return v
}

// writeJSON writes v as one line of JSON, with the characters that could
// rewrite a terminal escaped (see escapeUnsafe).
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(escapeUnsafe(b), '\n'))
	return err
}

// escapeUnsafe escapes, in JSON text, the characters encoding/json leaves
// raw that a terminal acts on or that reorder what it shows: C1 controls
// (U+0080..U+009F; U+009B is a CSI) and the bidirectional formatting
// characters (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069). Keys
// and command lines are anybody's strings; printed raw they could hide or
// fake what an operator reads. Outside strings JSON is ASCII, so every
// such character is inside a string, where \uXXXX means the same.
func escapeUnsafe(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if unsafeRune(r) {
			if out == nil {
				out = append(make([]byte, 0, len(b)+16), b[:i]...)
			}
			out = fmt.Appendf(out, `\u%04x`, r)
		} else if out != nil {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	if out == nil {
		return b
	}
	return out
}

func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f,
		r == 0x061c, r == 0x200e, r == 0x200f,
		r >= 0x202a && r <= 0x202e,
		r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// key prints the key idem run uses for a command line.
func (a *app) key(common commonFlags, args []string) int {
	fs := flag.NewFlagSet("key", flag.ContinueOnError)
	name := fs.String("name", defaultRunName, "")
	if code, ok := a.parse("key", &common, args, fs); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return a.usageError("key", "no command line")
	}
	k, err := idempotency.Key(*name, fs.Args())
	if err != nil {
		return a.fail(context.Background(), err)
	}
	fmt.Fprintln(a.stdout, k)
	return exitOK
}

func (a *app) get(ctx context.Context, common commonFlags, args []string) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	value := fs.Bool("value", false, "")
	output := fs.Bool("output", false, "")
	if code, ok := a.parse("get", &common, args, fs); !ok {
		return code
	}
	switch {
	case fs.NArg() != 1:
		return a.usageError("get", "want exactly one KEY")
	case *value && *output:
		return a.usageError("get", "--value and --output exclude each other")
	}
	key := fs.Arg(0)
	store, closeStore, err := a.openStore(ctx, common.store)
	if err != nil {
		return a.fail(ctx, err)
	}
	defer closeStore()
	rec, err := store.Get(ctx, key)
	if errors.Is(err, idempotency.ErrNotFound) {
		return a.fail(ctx, fmt.Errorf("%w (key %q)", err, key))
	}
	if err != nil {
		return a.fail(ctx, unavailable(err))
	}
	switch {
	case *value:
		_, err = a.stdout.Write(rec.Value)
	case *output:
		res, derr := decodeResult(rec.Value)
		if rec.Status != idempotency.StatusCompleted || derr != nil {
			return a.fail(ctx, fmt.Errorf("idempotency: key %q holds no recorded run (status %s)", key, rec.Status))
		}
		if _, err = a.stdout.Write(res.Stdout); err == nil {
			_, err = a.stderr.Write(res.Stderr)
		}
	default:
		err = writeJSON(a.stdout, viewOf(rec))
	}
	if err != nil {
		return a.fail(ctx, err)
	}
	return exitOK
}

func (a *app) forget(ctx context.Context, common commonFlags, args []string) int {
	fs := flag.NewFlagSet("forget", flag.ContinueOnError)
	if code, ok := a.parse("forget", &common, args, fs); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return a.usageError("forget", "want at least one KEY")
	}
	store, closeStore, err := a.openStore(ctx, common.store)
	if err != nil {
		return a.fail(ctx, err)
	}
	defer closeStore()
	// Every key is forgotten; a key without a record is named, so that a
	// mistyped key does not pass for a forgotten one.
	code := exitOK
	for _, key := range fs.Args() {
		_, err := store.Get(ctx, key)
		switch {
		case errors.Is(err, idempotency.ErrNotFound):
			fmt.Fprintf(a.stderr, "idem: key %q: no record to forget\n", key)
			code = exitNoRecord
			continue
		case err != nil && !errors.Is(err, idempotency.ErrCorrupt):
			return a.fail(ctx, unavailable(err))
		}
		if err := store.Delete(ctx, key); err != nil {
			return a.fail(ctx, unavailable(err))
		}
		a.notef(common.verbose, "forgot key %q", key)
	}
	return code
}

func (a *app) list(ctx context.Context, common commonFlags, args []string) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	if code, ok := a.parse("list", &common, args, fs); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return a.usageError("list", "want at most one PREFIX")
	}
	store, closeStore, err := a.openStore(ctx, common.store)
	if err != nil {
		return a.fail(ctx, err)
	}
	defer closeStore()
	lister, ok := store.(idempotency.Lister)
	if !ok {
		return a.fail(ctx, usageErr(errors.New("idempotency: this store cannot list its records")))
	}
	var werr error
	err = lister.List(ctx, fs.Arg(0), func(r idempotency.Record) bool {
		werr = writeJSON(a.stdout, viewOf(r))
		return werr == nil
	})
	if werr != nil {
		return a.fail(ctx, werr)
	}
	if err != nil {
		// Records listed before a corrupt one was met were printed.
		return a.fail(ctx, unavailable(err))
	}
	return exitOK
}

func (a *app) sweep(ctx context.Context, common commonFlags, args []string) int {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	if code, ok := a.parse("sweep", &common, args, fs); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return a.usageError("sweep", "takes no arguments")
	}
	store, closeStore, err := a.openStore(ctx, common.store)
	if err != nil {
		return a.fail(ctx, err)
	}
	defer closeStore()
	n := 0
	if sw, ok := store.(idempotency.Sweeper); ok {
		if n, err = sw.Sweep(ctx); err != nil {
			return a.fail(ctx, unavailable(err))
		}
	} else {
		a.notef(common.verbose, "this store expires records by itself; nothing to sweep")
	}
	if err := writeJSON(a.stdout, map[string]int{"removed": n}); err != nil {
		return a.fail(ctx, err)
	}
	return exitOK
}
