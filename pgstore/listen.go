package pgstore

import (
	"context"
	"encoding/hex"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// listener holds the store's one LISTEN connection (a dedicated pgx.Conn,
// so that it takes no slot of the caller's pool) and dispatches
// notifications to the watchers of a key digest. It starts with the first
// Watch. While it is down, watchers poll: their channels close after
// Options.PollInterval.
type listener struct {
	s *Store

	mu       sync.Mutex
	watchers map[string]map[*watch]struct{} // by key digest, hex
	up       bool                           // LISTEN is active
	started  bool
	closed   bool
	first    chan struct{} // closed after the first connection attempt
	cancel   context.CancelFunc
	done     chan struct{}
}

type watch struct {
	ch    chan struct{}
	once  sync.Once
	timer *time.Timer // polling fallback; nil while notifications work
}

func (w *watch) fire() { w.once.Do(func() { close(w.ch) }) }

func newListener(s *Store) *listener {
	return &listener{s: s, watchers: make(map[string]map[*watch]struct{}), first: make(chan struct{}), done: make(chan struct{})}
}

// Watch implements idemtype.Watcher. Notifications come from this store's
// writes in any process; while they cannot be received the channel closes
// after Options.PollInterval, so a waiter looks again.
func (s *Store) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := s.usable("watch", key); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	l := s.lis
	l.start()
	select {
	case <-l.first:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	digest := hashKey(key)
	id := hex.EncodeToString(digest)
	w := &watch{ch: make(chan struct{})}
	l.mu.Lock()
	switch {
	case l.closed:
		w.fire()
	case !l.up && s.opts.PollInterval > 0:
		w.timer = time.AfterFunc(s.opts.PollInterval, w.fire)
	}
	set := l.watchers[id]
	if set == nil {
		set = make(map[*watch]struct{})
		l.watchers[id] = set
	}
	set[w] = struct{}{}
	l.mu.Unlock()
	stop := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if w.timer != nil {
			w.timer.Stop()
		}
		if set := l.watchers[id]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(l.watchers, id)
			}
		}
	}
	// Mark the record watched so that the write ending it notifies. A
	// DoTx duplicate waiting on an uncommitted row skips this: the row is
	// invisible, and DoTx commits always notify.
	if c := txCallFrom(ctx, s, key); c == nil || !c.isContended() {
		if _, err := s.pool.Exec(ctx, s.sql.watch, digest); err != nil {
			// Without the mark no notification may come: poll instead.
			l.mu.Lock()
			if w.timer == nil && s.opts.PollInterval > 0 {
				w.timer = time.AfterFunc(s.opts.PollInterval, w.fire)
			}
			l.mu.Unlock()
		}
	}
	return w.ch, stop, nil
}

func (l *listener) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.closed {
		if l.closed && !l.started {
			l.started = true
			close(l.first)
			close(l.done)
		}
		return
	}
	l.started = true
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(ctx)
}

func (l *listener) close() {
	l.mu.Lock()
	l.closed = true
	started := l.started
	cancel := l.cancel
	for _, set := range l.watchers {
		for w := range set {
			w.fire()
		}
	}
	l.mu.Unlock()
	if started && cancel != nil {
		cancel()
		<-l.done
	}
}

// run keeps a LISTEN connection up until ctx ends, reconnecting with
// backoff.
func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	firstDone := false
	signalFirst := func() {
		if !firstDone {
			firstDone = true
			close(l.first)
		}
	}
	defer signalFirst()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := l.connect(ctx)
		if err == nil {
			backoff = 50 * time.Millisecond
			l.setUp(true)
			signalFirst()
			_ = l.receive(ctx, conn) // it ends when the connection does: reconnect
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(closeCtx)
			cancel()
		}
		// Notifications may have been lost: wake everyone, and poll until
		// the connection is back.
		l.setUp(false)
		signalFirst()
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, l.s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	listen := "LISTEN " + pgx.Identifier{l.s.names.channel}.Sanitize()
	if c := l.s.names.channel2; c != "" {
		listen += "; LISTEN " + pgx.Identifier{c}.Sanitize()
	}
	if _, err := conn.Exec(cctx, listen); err != nil {
		_ = conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

func (l *listener) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if id, ok := parsePayload(n.Payload); ok {
			l.dispatch(id)
		}
	}
}

func (l *listener) dispatch(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for w := range l.watchers[id] {
		w.fire()
	}
}

// setUp records whether notifications flow. Either way every current
// watcher is woken: when going down, to start polling; when coming up, to
// look at what changed meanwhile.
func (l *listener) setUp(up bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.up == up {
		return
	}
	l.up = up
	for _, set := range l.watchers {
		for w := range set {
			w.fire()
		}
	}
}

// parsePayload checks a notification payload: the hex SHA-256 digest of a
// key, as the store's statements send it. Anything else (another
// application's NOTIFY on the channel) is ignored.
func parsePayload(p string) (string, bool) {
	if len(p) != 64 {
		return "", false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return p, true
}
