package main

import (
	"context"
	"sync"
	"syscall"
)

// forwarder routes the signals idem catches: to the running command's
// process group while there is one, else to the cancellation of idem's
// context.
type forwarder struct {
	cancel context.CancelCauseFunc

	mu   sync.Mutex
	pgid int            // the running command's process group; 0: none
	got  syscall.Signal // the last signal forwarded to it
}

func (f *forwarder) deliver(s syscall.Signal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pgid == 0 {
		f.cancel(&interrupted{sig: s})
		return
	}
	f.got = s
	signalGroup(f.pgid, s)
}

// attach makes signals go to process group pgid until detach.
func (f *forwarder) attach(pgid int) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.pgid, f.got = pgid, 0
	f.mu.Unlock()
}

// detach stops forwarding and returns the last signal forwarded, if any.
func (f *forwarder) detach() syscall.Signal {
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pgid = 0
	return f.got
}
