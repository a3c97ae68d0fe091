// Command idem runs a command at most once, inspects and forgets the
// records it keeps, and is an HTTP reverse proxy that adds Idempotency-Key
// semantics in front of any service.
//
// Usage:
//
//	idem [--store URL] [-v] COMMAND [flags] [args]
//
//	idem run [--key K | --name N] [--ttl D] [--lease D] [--wait D]
//	         [--no-takeover] [--remember-failure] [--max-output N] -- COMMAND [ARGS...]
//	idem key [--name N] -- COMMAND [ARGS...]
//	idem get [--value | --output] KEY
//	idem forget KEY...
//	idem list [PREFIX]
//	idem sweep
//	idem proxy --target URL [--listen ADDR] [--required] [--methods POST,PATCH]
//	           [--scope-header NAME | --shared-keys] [--scope-secret S]
//	           [--ttl D] [--lease D] [--wait D] [--write-timeout D] ...
//	idem version
//	idem help [COMMAND]
//
// # Stores
//
// --store, or the IDEM_STORE environment variable, names where records are
// kept, as a directory or a URL:
//
//	/var/lib/idem, file:///var/lib/idem      a directory (package filestore): processes of one host
//	redis://host:6379/0?prefix=myapp:        Redis (package redisstore; go-redis URL options; rediss://, unix://)
//	redis+cluster://h1:6379,h2:6379          a Redis Cluster
//	postgres://user@host/db?table=idem_runs  PostgreSQL (package pgstore; the schema is migrated)
//
// The default is $XDG_STATE_HOME/idem, or ~/.local/state/idem. A relative
// directory must start with ./ or ../: anything else that is not a URL of
// these schemes (localhost:6379, redis:/host) is a usage error, never a
// directory created by mistake.
//
// # idem run
//
//	idem run --key nightly-report-2025-06-01 -- ./report.sh --month 05
//
// The first run with a key executes the command, streaming its output
// through while recording the first --max-output bytes (default 1 MiB) of
// stdout and stderr and its exit code, and exits with that code. A later
// run with the key prints the recorded output and exits with the recorded
// code without executing anything (-v says so on stderr). Without --key the
// key is derived from the command line (idem key prints it), so that
// repeating a command line is what makes it a duplicate. The command line
// is the key's fingerprint either way: the same key with another command
// line exits 65.
//
// A command exiting non-zero is not recorded, so a retry runs it again;
// --remember-failure records it like a success. A run that finds the key in
// progress elsewhere exits 75 at once, or waits up to --wait for its
// outcome. The command gets idem's stdin and runs in its own process
// group (so it cannot read from the terminal); SIGINT, SIGTERM, SIGHUP and
// SIGQUIT sent to idem are forwarded to it, and a command that fails after
// one was forwarded is never recorded. idem renews its lease on
// the key every --lease/3; a run whose idem died is taken over by the next
// run once its lease lapses, unless --no-takeover, which makes later runs
// exit 76 until idem forget frees the key.
//
// The command runs under a copy of idem that leads its process group and
// kills the command's process tree when idem dies (even by SIGKILL) or
// stops the command for a lost lease: on Linux, as a child subreaper, every
// descendant, also one that left the group (setsid); on other Unix systems
// the process group. On Windows a command outlives a killed idem. A
// command's background processes that outlive it (daemons) are left
// running: idem waits up to 2s for them to close its output pipes, then
// records what it captured.
//
// # Exit codes
//
// idem run exits with the command's own code; idem's own outcomes use
// codes from sysexits.h (see idem help): 64 usage, 65 key used with another
// command line, 66 no such record, 69 store unavailable (nothing run), 70
// unreadable record, 71 the proxy cannot listen, 74 outcome not recorded,
// 75 in progress elsewhere or lease lost, 76 abandoned under --no-takeover,
// 126/127 command cannot be executed or found, 128+n interrupted by signal
// n. Each failure is reported in one line starting "idem: "; -v adds
// detail, with the store client's own log.
//
// # idem proxy
//
//	idem proxy --listen 127.0.0.1:8081 --target http://127.0.0.1:8080 --scope-header Authorization
//
// is a reverse proxy (net/http/httputil) wrapped in the idemhttp middleware:
// a POST or PATCH with an Idempotency-Key reaches the service at most once
// per key and client; retries get the recorded response with
// "Idempotent-Replayed: true", 409 while the first is in flight, 422 when
// the request differs. SIGINT and SIGTERM shut it down gracefully. It sets
// X-Forwarded-For, -Host and -Proto and drops a client's forwarding
// headers (X-Forwarded-*, X-Real-IP, Forwarded); --write-timeout (default
// 60s), --read-timeout and --idle-timeout bound what a client can hold.
package main
