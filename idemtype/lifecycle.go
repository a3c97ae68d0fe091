package idemtype

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Lifecycle is the part of the [Closer] contract that a store can share
// with others (every store of this module and its submodules uses it):
// whether the store is closed, a Close that runs once, and the background
// sweeper that Close stops. The zero value is an open store without a
// sweeper. A store checks [Lifecycle.Closed] at the start of every
// operation and answers [ErrClosed] (in an [OpError]) once it holds.
type Lifecycle struct {
	closed atomic.Bool
	once   sync.Once
	cancel context.CancelFunc // stops the sweeper; nil without one
	done   chan struct{}      // closed when the sweeper returned
}

// Sweep calls sweep every interval in a goroutine until Close, with a
// context that Close cancels. Call it at most once, before the store is
// used.
func (s *Lifecycle) Sweep(interval time.Duration, sweep func(context.Context)) {
	s.done = make(chan struct{})
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				sweep(ctx)
			}
		}
	}()
}

// Closed reports whether Close was called.
func (s *Lifecycle) Closed() bool { return s.closed.Load() }

// Close marks the store closed, so that its operations fail from now on,
// stops the sweeper and waits for it, then calls release (if not nil) and
// returns its error. Only the first call does this; later ones return nil
// once the first has returned.
func (s *Lifecycle) Close(release func() error) error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		if s.cancel != nil {
			s.cancel() // a sweep in progress ends early too
			<-s.done
		}
		if release != nil {
			err = release()
		}
	})
	return err
}
