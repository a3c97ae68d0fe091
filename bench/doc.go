// Package bench measures the guard against peers in the same run: a bare
// call of the function, golang.org/x/sync/singleflight (which collapses
// concurrent duplicates but remembers nothing), gofiber v2's idempotency
// middleware over its bare fasthttp handler (beside idemhttp over a bare
// net/http handler), and raw go-redis and pgx clients making the fewest
// round trips that do the work of the Redis and PostgreSQL stores. It is a
// module of its own so that benchmark dependencies stay out of users'
// builds. The Redis and PostgreSQL cases start their own servers with
// internal/testserver (Unix only) and are skipped when the binaries are
// missing, unless IDEM_TEST_REQUIRE_SERVERS=1. Their raw and guard cases
// also report the CPU time per call of this process (client-cpu-ns/op) and
// of the server's processes (server-cpu-ns/op): on which side of the
// connection the guard's extra time is spent.
//
// The report runs them, prints medians with ratios to the baseline of the
// same run, checks the project's targets and writes docs/benchmarks.md and
// docs/benchmarks.svg:
//
//	cd bench && go run ./cmd/report          # -count 5 -benchtime 1s
//	cd bench && go run ./cmd/report -short   # one quick run
//
// The benchmarks alone:
//
//	cd bench && go test -run '^$' -bench . -benchmem
//
// Benchmark names must not end in -digits: the report strips that suffix
// as go test's GOMAXPROCS mark.
package bench
