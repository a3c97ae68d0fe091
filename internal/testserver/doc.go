// Package testserver starts real servers (redis-server, postgres) for
// tests: on loopback ports, in temp dirs, as child processes that the test
// stops by pid in its cleanup. Tests never assume a system service.
package testserver
