package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/idempotency-go/idempotency"
)

// defaultRunName namespaces the keys idem run derives from command lines.
const defaultRunName = "idem:run"

// runFlags are the flags of idem run.
type runFlags struct {
	guardFlags
	key, name string
	remember  bool
	maxOutput sizeFlag
}

func (f *runFlags) register(fs *flag.FlagSet) {
	f.guardFlags.register(fs)
	fs.StringVar(&f.key, "key", "", "")
	fs.StringVar(&f.name, "name", defaultRunName, "")
	fs.BoolVar(&f.remember, "remember-failure", false, "")
	f.maxOutput.n = 1 << 20
	fs.Var(&f.maxOutput, "max-output", "")
}

// check takes the parsed FlagSet, whose arguments are the command line.
func (f *runFlags) check(fs *flag.FlagSet) string {
	var keyAndName bool
	fs.Visit(func(fl *flag.Flag) { keyAndName = keyAndName || (fl.Name == "name" && f.key != "") })
	switch {
	case fs.NArg() == 0:
		return "no command to run"
	case keyAndName:
		return "--key and --name exclude each other"
	case f.maxOutput.n > 64<<20:
		return "--max-output is at most 64MiB"
	}
	return f.guardFlags.check()
}

// runKey is the record key of a command line: --key as given, else a
// digest of the command line under --name.
func (f *runFlags) runKey(argv []string) (string, error) {
	if f.key != "" {
		return f.key, nil
	}
	return idempotency.Key(f.name, argv)
}

// commandFailed is fn's error for a command that exited non-zero: the
// guard releases the key, so that a retry runs the command again.
type commandFailed struct{ exit int }

func (e *commandFailed) Error() string {
	return fmt.Sprintf("idempotency: command exited with code %d", e.exit)
}

func (a *app) run(ctx context.Context, common commonFlags, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	if code, ok := a.parse("run", &common, args, fs); !ok {
		return code
	}
	if msg := f.check(fs); msg != "" {
		return a.usageError("run", msg)
	}
	argv := fs.Args()
	key, err := f.runKey(argv)
	if err != nil {
		return a.fail(ctx, err)
	}
	a.notef(common.verbose, "key %q", key)
	cfg, msg := f.config()
	if msg != "" {
		return a.usageError("run", msg)
	}
	store, closeStore, err := a.openStore(ctx, common.store)
	if err != nil {
		return a.fail(ctx, err)
	}
	defer closeStore()
	cfg.Logger = a.logger(common.verbose)
	cfg.Observer = idempotency.ObserverFunc(func(_ context.Context, e idempotency.Event) {
		switch e.Kind {
		case idempotency.EventTakeover:
			a.notef(common.verbose, "took over key %q from a run whose lease lapsed (token %d)", e.Key, e.Token)
		case idempotency.EventLeaseLost:
			a.notef(common.verbose, "lost the lease of key %q; stopping the command", e.Key)
		}
	})
	g := idempotency.New(store, cfg)
	wait := f.wait
	if wait == 0 {
		wait = -1 // the guard's "do not wait"
	}

	executed := false
	res, err := idempotency.Do(ctx, g, key, func(ctx context.Context) (runResult, error) {
		executed = true
		res, forwarded, err := a.execute(ctx, argv, int(f.maxOutput.n))
		res.Argv = argv
		if err != nil || res.Exit == 0 {
			return res, err
		}
		// A command that fails after idem forwarded it a signal was
		// interrupted, not failed: that is never remembered.
		if !f.remember || forwarded != 0 {
			return res, &commandFailed{exit: res.Exit}
		}
		return res, nil
	}, idempotency.WithFingerprint(argv), idempotency.WithWaitTimeout(wait))

	var failed *commandFailed
	switch {
	case err == nil && executed:
		return res.Exit
	case err == nil:
		if err := res.check(); err != nil {
			return a.fail(ctx, fmt.Errorf("%w (key %q)", err, key))
		}
		a.notef(common.verbose, "key %q was run before; replaying its recorded output and exit code %d", key, res.Exit)
		_, _ = a.stdout.Write(res.Stdout)
		_, _ = a.stderr.Write(res.Stderr)
		if res.StdoutTruncated || res.StderrTruncated {
			fmt.Fprintln(a.stderr, "idem: the recorded output was truncated (--max-output)")
		}
		return res.Exit
	case errors.As(err, &failed):
		a.notef(common.verbose, "command exited with code %d; key %q released", failed.exit, key)
		return failed.exit
	case errors.Is(err, idempotency.ErrNotRecorded):
		fmt.Fprintf(a.stderr, "idem: the command ran (exit code %d) but its outcome could not be recorded: %s\n", res.Exit, strings.TrimPrefix(err.Error(), "idempotency: "))
		return exitNotRecorded
	case errors.Is(err, idempotency.ErrLeaseLost):
		return a.fail(ctx, fmt.Errorf("idempotency: key %q: lost the lease, so the command was stopped (exit code %d): %w", key, res.Exit, err))
	case errors.Is(err, idempotency.ErrResultUnavailable):
		return a.fail(ctx, fmt.Errorf("%w; the record was not written by idem run, or cannot be read", err))
	case errors.Is(err, idempotency.ErrKeyReused):
		return a.fail(ctx, fmt.Errorf("%w; it was used with another command line", err))
	}
	return a.fail(ctx, err)
}
