// Package testserver starts real servers (redis-server, postgres) for
// tests: on loopback ports, in temp dirs, as child processes that the test
// stops by pid in its cleanup. Tests never assume a system service, and
// never install anything: the binaries are found on PATH, in
// /usr/lib/postgresql/*/bin, or where IDEM_TEST_REDIS and IDEM_TEST_PG
// point. A test whose server is missing is skipped with a message saying
// so, or fails when IDEM_TEST_REQUIRE_SERVERS=1 (as scripts/test sets).
package testserver
