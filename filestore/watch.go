package filestore

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// watch is one Watch call. Its channel closes once: on a change made
// through this Store, or when a poll finds the record file replaced or
// gone (another process wrote it).
type watch struct {
	s    *Store
	st   *stripe
	key  string
	file string
	ch   chan struct{}
	snap fileID

	mu      sync.Mutex
	closed  bool // ch closed or the watch stopped
	timer   *time.Timer
	stopped bool
}

// fileID tells record files apart. Every write renames a new file into
// place, so a change shows as a new inode; size and modification time
// guard against an inode number reused after a removal.
type fileID struct {
	exists bool
	ino    uint64
	size   int64
	mtime  int64
}

func statID(path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		// Missing, or unreadable: either way the next look decides.
		return fileID{}
	}
	return fileID{exists: true, ino: inode(fi), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// Watch implements idemtype.Watcher. Changes made through this Store close
// the channel at once. Changes made by other processes are seen by polling
// the record file's identity (a stat, no read) every
// Options.PollInterval; callers also wake at the lease deadline anyway.
func (s *Store) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	l := s.locate(key)
	w := &watch{s: s, st: l.st, key: key, file: l.file, ch: make(chan struct{})}
	w.snap = statID(l.file)
	l.st.wmu.Lock()
	// Under wmu: Close wakes each stripe's watchers under it after marking
	// the store closed, so a watch is either refused or woken.
	if s.life.Closed() {
		l.st.wmu.Unlock()
		return nil, nil, opErr("watch", key, idemtype.ErrClosed)
	}
	if l.st.watchers == nil {
		l.st.watchers = make(map[string]map[*watch]struct{})
	}
	ws := l.st.watchers[key]
	if ws == nil {
		ws = make(map[*watch]struct{})
		l.st.watchers[key] = ws
	}
	ws[w] = struct{}{}
	l.st.wmu.Unlock()
	if s.poll > 0 {
		w.mu.Lock()
		w.timer = time.AfterFunc(s.poll, w.check)
		w.mu.Unlock()
	}
	return w.ch, w.stop, nil
}

// check is the poll: fire if the file changed, else look again later.
func (w *watch) check() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	if statID(w.file) == w.snap {
		w.timer.Reset(w.s.poll)
		w.mu.Unlock()
		return
	}
	w.closed = true
	close(w.ch)
	w.mu.Unlock()
	w.unregister()
}

// fire closes the channel; the caller holds st.wmu and unregisters w.
func (w *watch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	close(w.ch)
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (w *watch) stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.closed = true // the channel stays open; nobody listens any more
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	w.unregister()
}

func (w *watch) unregister() {
	w.st.wmu.Lock()
	defer w.st.wmu.Unlock()
	if ws := w.st.watchers[w.key]; ws != nil {
		delete(ws, w)
		if len(ws) == 0 {
			delete(w.st.watchers, w.key)
		}
	}
}

// notify wakes this Store's watchers of key.
func (s *Store) notify(st *stripe, key string) {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	for w := range st.watchers[key] {
		w.fire()
	}
	delete(st.watchers, key)
}

// wakeAll wakes every watcher of the stripe (Close).
func (st *stripe) wakeAll() {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	for _, ws := range st.watchers {
		for w := range ws {
			w.fire()
		}
	}
	clear(st.watchers)
}
