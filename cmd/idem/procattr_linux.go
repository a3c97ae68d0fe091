package main

import "syscall"

// procAttr puts the command in its own process group, so that signals
// reach everything it started, and has the kernel kill it when idem dies:
// an idem killed mid-command leaves no command running unrenewed, which
// would otherwise keep going while another run takes the key over.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
