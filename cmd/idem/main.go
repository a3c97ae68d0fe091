package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	if isReaper() {
		os.Exit(reap(os.Args[1:]))
	}
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	ctx, stop := a.handleSignals(context.Background())
	code := a.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// app is one invocation of idem. Its fields are what the process would
// use, so that tests and examples can run it in-process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	sig            *forwarder // nil: signals are not handled (in-process use)
}

// handleSignals makes SIGINT, SIGTERM, SIGHUP and SIGQUIT cancel ctx while
// no command runs, and forwards them to the command's process group while
// one does. SIGPIPE is caught so that a closed stdout makes writes fail
// instead of killing idem in the middle of a command; children still get
// the default SIGPIPE behaviour, since caught signals are reset on exec.
func (a *app) handleSignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	a.sig = &forwarder{cancel: cancel}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range ch {
			if s == syscall.SIGPIPE {
				continue
			}
			a.sig.deliver(s.(syscall.Signal))
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(ch)
		<-done
		cancel(nil)
	}
}

// main runs the command line args and returns the exit code.
func (a *app) main(ctx context.Context, args []string) int {
	g := flag.NewFlagSet("idem", flag.ContinueOnError)
	g.SetOutput(io.Discard)
	var common commonFlags
	common.register(g, a)
	showVersion := g.Bool("version", false, "")
	if err := g.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(a.stdout, usageText)
			return exitOK
		}
		return a.usageError("", err.Error())
	}
	if *showVersion {
		return a.version(nil)
	}
	args = g.Args()
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usageText)
		return exitUsage
	}
	name, args := args[0], args[1:]
	switch name {
	case "run":
		return a.run(ctx, common, args)
	case "key":
		return a.key(common, args)
	case "get":
		return a.get(ctx, common, args)
	case "forget":
		return a.forget(ctx, common, args)
	case "list":
		return a.list(ctx, common, args)
	case "sweep":
		return a.sweep(ctx, common, args)
	case "proxy":
		return a.proxy(ctx, common, args)
	case "version":
		return a.version(args)
	case "help":
		return a.help(args)
	}
	return a.usageError("", fmt.Sprintf("unknown command %q", name))
}

// commonFlags are accepted before and after the command name.
type commonFlags struct {
	store   string
	verbose bool
}

func (c *commonFlags) register(fs *flag.FlagSet, a *app) {
	if c.store == "" {
		c.store = a.getenv("IDEM_STORE")
	}
	fs.StringVar(&c.store, "store", c.store, "")
	fs.BoolVar(&c.verbose, "v", c.verbose, "")
}

// parse parses a command's flags, common ones included. It returns
// false and the exit code when the command must not go on.
func (a *app) parse(cmd string, common *commonFlags, args []string, fs *flag.FlagSet) (int, bool) {
	fs.SetOutput(io.Discard)
	common.register(fs, a)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(a.stdout, "usage: "+commandUsage[cmd])
			return exitOK, false
		}
		return a.usageError(cmd, err.Error()), false
	}
	return 0, true
}

// usageError reports a usage mistake in one line and returns exitUsage.
func (a *app) usageError(cmd, msg string) int {
	help := "idem help"
	if cmd != "" {
		help += " " + cmd
	}
	fmt.Fprintf(a.stderr, "idem: %s (see '%s')\n", msg, help)
	return exitUsage
}

// fail reports err on stderr, in one line starting "idem: ", and returns
// its exit code. A signal that interrupted a blocking call wins over the
// error it caused.
func (a *app) fail(ctx context.Context, err error) int {
	var in *interrupted
	if cause := context.Cause(ctx); errors.As(cause, &in) {
		err = cause
	}
	fmt.Fprintln(a.stderr, "idem: "+strings.TrimPrefix(err.Error(), "idempotency: "))
	return exitCode(err)
}

// logger is the guard's logger. idem reports each failure once, itself
// (fail), so the guard's own log lines (store errors, also returned to
// idem) and go-redis's are shown only with -v, on stderr.
func (a *app) logger(verbose bool) *slog.Logger {
	if !verbose {
		redis.SetLogger(quietRedis{})
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// quietRedis is go-redis's logger without -v: it drops the lines.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func (a *app) notef(verbose bool, format string, args ...any) {
	if verbose {
		fmt.Fprintf(a.stderr, "idem: "+format+"\n", args...)
	}
}
