package filestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// stripe is one of the store's lock files. Keys map to stripes by hash, so
// the number of lock files is fixed however many keys there are.
//
// flock locks belong to an open file description, which every goroutine of
// the process shares: sem excludes the goroutines of this Store, the flock
// excludes other processes (and other Stores on the same directory). The
// kernel drops the flock when the process dies, so a crash never leaves a
// key locked.
type stripe struct {
	path string
	sem  chan struct{} // capacity 1: a mutex that a context can abandon
	f    *os.File      // opened on first use; guarded by sem

	wmu      sync.Mutex
	watchers map[string]map[*watch]struct{}
}

func (s *Store) stripePath(i int) string {
	return filepath.Join(s.dir, "locks", fmt.Sprintf("%02d.lock", i))
}

// lock takes the stripe for this process and this goroutine. A context that
// ends first abandons the wait.
func (s *Store) lock(ctx context.Context, st *stripe) error {
	select {
	case st.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := s.flock(ctx, st); err != nil {
		<-st.sem
		return err
	}
	return nil
}

func (s *Store) unlock(st *stripe) {
	// The unlock cannot fail on a valid descriptor; if it did, closing the
	// file would drop the lock, so do that rather than hold it.
	if err := unlockFile(st.f); err != nil {
		_ = st.f.Close()
		st.f = nil
	}
	<-st.sem
}

// flock takes the stripe's file lock. A blocking flock cannot be
// cancelled, so it polls with a short backoff: a holder keeps the lock for
// one read and one write, and a holder stopped by a signal must not hold
// its waiters past their contexts.
func (s *Store) flock(ctx context.Context, st *stripe) error {
	if st.f == nil {
		if s.life.Closed() {
			return idemtype.ErrClosed
		}
		// os.OpenFile sets O_CLOEXEC: children of this process never
		// inherit the lock.
		f, err := os.OpenFile(st.path, os.O_RDWR|os.O_CREATE, s.fileMode)
		if err != nil {
			return fmt.Errorf("open lock file: %w", err)
		}
		st.f = f
	}
	delay := 50 * time.Microsecond
	var t *time.Timer
	for {
		locked, err := tryLockFile(st.f)
		if err != nil {
			return fmt.Errorf("flock %s: %w", st.path, err)
		}
		if locked {
			if t != nil {
				t.Stop()
			}
			return nil
		}
		if s.backoff != nil {
			s.backoff(delay)
		}
		if t == nil {
			t = time.NewTimer(delay)
		} else {
			t.Reset(delay)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		delay = min(2*delay, 5*time.Millisecond)
	}
}

// nextToken returns a token larger than prev and than every token this
// stripe handed out before, and remembers it. The stripe must be locked.
//
// The counter lives in the first 8 bytes of the lock file. A new lock file
// starts the counter at the clock's Unix nanoseconds, so that even a
// directory whose lock files were lost keeps handing out larger tokens
// than before while the clock does not go back. The counter is not
// fsynced: only a kernel crash can lose it, and that kills every process
// holding an older token of this host's store; the live records' own tokens
// (prev) still bound the next one from below.
func (s *Store) nextToken(st *stripe, prev idemtype.Token, now time.Time) (idemtype.Token, error) {
	var b [8]byte
	n, err := st.f.ReadAt(b[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read token counter: %w", err)
	}
	c := binary.LittleEndian.Uint64(b[:])
	if n < len(b) {
		c = uint64(max(now.UnixNano(), 0))
	}
	next := max(c, uint64(prev)) + 1
	binary.LittleEndian.PutUint64(b[:], next)
	if _, err := st.f.WriteAt(b[:], 0); err != nil {
		return 0, fmt.Errorf("write token counter: %w", err)
	}
	return idemtype.Token(next), nil
}
