package main

import (
	"fmt"
	"strings"
)

const usageText = `idem runs a command at most once, inspects and forgets the records it
keeps, and proxies HTTP with Idempotency-Key semantics.

usage: idem [--store URL] [-v] COMMAND [flags] [args]

commands:
  run     run a command at most once per key
  key     print the key idem run derives from a command line
  get     print a record
  forget  forget records, so that their keys run again
  list    list records
  sweep   remove expired records
  proxy   an HTTP reverse proxy honouring Idempotency-Key
  version print idem's version (also --version)
  help    show help for a command

common flags (before or after COMMAND):
  --store URL   where records are kept (default $IDEM_STORE, else
                $XDG_STATE_HOME/idem or ~/.local/state/idem):
                  /dir, ./dir, file:///dir         a directory (one host)
                  redis://host:port/db?prefix=P    Redis (also rediss://, unix://)
                  redis+cluster://h1:p1,h2:p2      a Redis Cluster
                  postgres://user@host/db?table=T  PostgreSQL (schema migrated)
                anything else (host:port, redis:/host) is a usage error
  -v            say what happens on stderr, with the store's own log

exit codes of idem itself:
  0    success (run: the command's own exit code instead)
  64   usage error
  65   the key was used with another command line, or is invalid
  66   get, forget: no record for the key
  69   the store cannot be opened or failed; nothing was run
  70   a record cannot be read (corrupt, or not written by idem run)
  71   proxy: cannot listen on --listen (address in use)
  74   the command ran but its outcome could not be recorded
  75   another run of the key is in progress, or this run lost its lease
  76   --no-takeover: the run holding the key died; idem forget frees it
  126  the command cannot be executed; 127: not found (nothing recorded)
  128+n  interrupted by signal n

Run 'idem help COMMAND' for a command's flags.
`

var commandUsage = map[string]string{
	"run": `idem run [--key K | --name N] [--ttl D] [--lease D] [--wait D] [--no-takeover] [--remember-failure] [--max-output N] -- COMMAND [ARGS...]

Runs COMMAND at most once per key. The first run executes it, streaming
its output through while recording the first --max-output bytes of stdout
and stderr and its exit code; a later run with the key prints the
recorded output and exits with the recorded code without running it. A
command that exits non-zero is not recorded unless --remember-failure, so
a retry runs it again. A command that cannot be started records nothing.

The command gets idem's stdin. It runs in its own process group; SIGINT,
SIGTERM, SIGHUP and SIGQUIT are forwarded to it, and a command that fails
after one of them is never recorded. Being in a background group, a command
that reads from the terminal is stopped (SIGTTIN): give it its input
another way. The lease on the key is renewed every lease/3 while it
runs; if the lease is lost (the store says another run took the key over)
the command gets SIGTERM and, 10s later, its whole process tree is
killed; idem exits 75.

The command runs under a small copy of idem that leads its process group
and kills the command's process tree when idem dies (even by SIGKILL): on
Linux every descendant, also one that left the group (setsid); on other
Unix systems the process group. On Windows the command outlives a killed
idem. Processes the command leaves running when it exits (daemons) are
not killed: idem waits up to 2s for them to close its output, records
what it captured, and exits.

The command line is the fingerprint of the key: the same key with another
command line exits 65.

flags:
  --key K             the record key (default: derived from the command
                      line under --name; see idem key)
  --name N            the namespace of derived keys (default "idem:run")
  --ttl D             how long the outcome is remembered: a duration
                      (90m), days (7d) or forever (default 24h); it
                      also bounds the run: a command running longer
                      cannot record its outcome (exit 74)
  --lease D           how long the key stays claimed without renewal;
                      past it another run may take over (default 30s)
  --wait D            how long to wait for a run of the key in progress
                      elsewhere, to replay its outcome (default 0: exit
                      75 at once)
  --no-takeover       never take over a run whose lease lapsed (it may
                      have had its effect): exit 76 instead
  --remember-failure  record non-zero exit codes too
  --max-output N      bytes of each stream recorded: 512K, 1M (default
                      1M, at most 64M); a replay of truncated output
                      says so on stderr
`,
	"key": `idem key [--name N] -- COMMAND [ARGS...]

Prints the key idem run uses for COMMAND [ARGS...] without --key.
`,
	"get": `idem get [--value | --output] KEY

Prints the live record for KEY as JSON: key, status (in_progress,
completed, failed), token (a string of digits), fingerprint, times, the
size of the value and, for a record of idem run, its command line, exit
code and output sizes. C1 control and bidirectional formatting characters
are escaped (\u0085), so that a key cannot rewrite the terminal. Exits 66
when there is none.

flags:
  --value   print the raw stored value instead
  --output  print the recorded stdout and stderr of an idem run record
`,
	"forget": `idem forget KEY...

Deletes the records of the keys, whatever their state, so that the next
run of each executes again. A key without a record is named on stderr,
and idem exits 66 once every other key was forgotten.
`,
	"list": `idem list [PREFIX]

Prints every live record whose key starts with PREFIX, one JSON object a
line (as idem get does), in no particular order.
`,
	"sweep": `idem sweep

Removes expired records from stores that keep them (directories,
PostgreSQL) and prints {"removed": N}. Redis expires records itself.
`,
	"proxy": `idem proxy --target URL [--listen ADDR] [--required] [--methods LIST] [--scope-header NAME | --shared-keys] [flags]

An HTTP reverse proxy to --target that runs each request with an
Idempotency-Key at most once: a retry gets the recorded response with
"Idempotent-Replayed: true", a retry while the first is still in flight
gets 409 with Retry-After, and the same key with another method, path,
query or body gets 422. 5xx responses are not recorded. Clients are kept
apart by default: a key belongs to the client's credentials (a keyed
digest of its Authorization header, cookies and TLS certificate), and a
guarded request without credentials gets 401, unless --scope-header names
another identity or --shared-keys puts everyone in one key space. SIGINT or SIGTERM stops accepting
connections and lets requests in flight finish.

flags:
  --listen ADDR            where to listen (default 127.0.0.1:8081)
  --target URL             the service, http:// or https:// (required)
  --required               answer 400 to guarded requests without a key
  --methods LIST           guarded methods (default POST,PATCH)
  --scope-header NAME      keep keys apart per value of this header (e.g.
                           X-Api-Key) instead of the credentials; only a
                           keyed digest of it is stored
  --shared-keys            one key space for every client: only for a
                           service with a single trusted client
  --scope-secret S         the key of the credentials digest that keeps
                           clients apart (default $IDEM_SCOPE_SECRET, else
                           one made once and kept in the store)
  --key-prefix P           prefix of record keys (default "idemhttp:")
  --ttl D                  how long responses are remembered (default 24h)
  --lease D                claim lease (default 30s)
  --wait D                 how long a retry waits for a request in flight
                           before 409 (default 0)
  --no-takeover            never take over a request whose lease lapsed
  --store-server-errors    record 5xx responses too
  --max-request-bytes N    largest guarded request body (default 1M)
  --max-response-bytes N   largest recorded response body (default 1M)
  --shutdown-timeout D     how long requests in flight may take to finish
                           on shutdown (default 30s)
  --read-timeout D         longest time to read a request, body included
                           (default 60s; 0: none)
  --write-timeout D        longest time from a request's headers to the end
                           of its response, the service's time included; a
                           client that stops reading loses the connection
                           then, and the key is settled (default 60s; 0:
                           none)
  --idle-timeout D         how long a keep-alive connection may idle
                           (default 120s)
  --metrics-listen ADDR    serve Prometheus metrics at http://ADDR/metrics
                           and /healthz (idempotency_calls_total by
                           outcome, call and store durations); with -v,
                           one access log line per request

Forwarding headers: the service gets X-Forwarded-For (the client's
address), X-Forwarded-Host and X-Forwarded-Proto, set by the proxy. The
client's own X-Forwarded-*, X-Real-IP and Forwarded headers are dropped,
so that a client cannot claim another address.
`,
	"version": `idem version

Prints idem's version (the module version it was installed at, or
"(devel)" for a build from a checkout), the Go version and the platform.
`,
	"help": `idem help [COMMAND]

Shows help for idem or one of its commands.
`,
}

func (a *app) help(args []string) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(a.stdout, usageText)
	case len(args) == 1 && commandUsage[args[0]] != "":
		fmt.Fprint(a.stdout, "usage: "+commandUsage[args[0]])
	default:
		return a.usageError("help", fmt.Sprintf("no help for %q", strings.Join(args, " ")))
	}
	return exitOK
}
