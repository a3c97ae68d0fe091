//go:build unix && !linux

package main

import "syscall"

// procAttr puts the command in its own process group, so that signals
// reach everything it started. Outside Linux there is no parent-death
// signal: a command whose idem was killed runs on.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
