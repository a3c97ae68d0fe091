package idemtype

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLifecycleClose(t *testing.T) {
	t.Parallel()
	var s Lifecycle
	swept := make(chan struct{}, 1)
	var ended bool
	s.Sweep(time.Millisecond, func(ctx context.Context) {
		select {
		case swept <- struct{}{}:
		default:
		}
		<-ctx.Done() // a long sweep: Close must end it
		ended = true
	})
	select {
	case <-swept:
	case <-time.After(10 * time.Second):
		t.Fatal("the sweeper did not run within 10s")
	}
	if s.Closed() {
		t.Fatal("closed before Close")
	}
	released := 0
	errRelease := errors.New("release failed")
	release := func() error { released++; return errRelease }
	if err := s.Close(release); err != errRelease {
		t.Fatalf("Close = %v, want release's error", err)
	}
	if !ended || !s.Closed() {
		t.Fatalf("after Close: sweep ended %v, closed %v; want both", ended, s.Closed())
	}
	if err := s.Close(release); err != nil || released != 1 {
		t.Fatalf("second Close = %v after %d releases; want nil after 1", err, released)
	}
}

func TestLifecycleCloseWithoutSweeper(t *testing.T) {
	t.Parallel()
	var s Lifecycle
	if err := s.Close(nil); err != nil || !s.Closed() {
		t.Fatalf("Close = %v, closed %v", err, s.Closed())
	}
}
