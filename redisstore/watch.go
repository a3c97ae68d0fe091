package redisstore

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// watchers multiplexes every Watch of a Store onto one subscription
// connection (one per master on a Cluster, since sharded channels live on
// the node that owns their slot).
type watchers struct {
	s      *Store
	mu     sync.Mutex
	hubs   map[string]*hub // by node address; "" off a Cluster
	closed bool
	wg     sync.WaitGroup
}

// hub is one subscription connection and the channels it listens to.
type hub struct {
	ps      *redis.PubSub
	sharded bool
	done    chan struct{}

	mu   sync.Mutex
	subs map[string]*sub
}

// sub is one subscribed channel: waiters share ch, which is closed and
// replaced on every message.
type sub struct {
	ch    chan struct{}
	ready chan struct{} // closed once the server confirmed the subscription
	n     int           // watches holding it
}

func (w *watchers) init(s *Store) { w.s = s }

// Watch implements idemtype.Watcher. The channel is closed by the next
// change of the key's record made through any Store with the same prefix
// and notifications on, or spuriously when the subscription connection was
// lost (a message may have been missed). Watch returns once the server has
// confirmed the subscription, so no change after it returns goes unseen.
func (s *Store) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := s.usable("watch", key); err != nil {
		return nil, nil, err
	}
	if s.pubCmd == "" {
		return nil, nil, s.opErr("watch", key, ErrNoPubSub)
	}
	channel := s.name(key)
	h, err := s.watch.hub(ctx, channel)
	if err != nil {
		return nil, nil, s.opErr("watch", key, err)
	}
	h.mu.Lock()
	e := h.subs[channel]
	if e == nil {
		e = &sub{ch: make(chan struct{}), ready: make(chan struct{})}
		h.subs[channel] = e
		if err := h.subscribe(ctx, channel); err != nil {
			delete(h.subs, channel)
			h.mu.Unlock()
			return nil, nil, s.opErr("watch", key, err)
		}
	}
	e.n++
	ch, ready := e.ch, e.ready
	h.mu.Unlock()

	var once sync.Once
	stop := func() { once.Do(func() { h.release(channel, e) }) }
	select {
	case <-ready:
		return ch, stop, nil
	case <-h.done:
		stop()
		return nil, nil, s.opErr("watch", key, ErrClosed)
	case <-ctx.Done():
		stop()
		return nil, nil, s.opErr("watch", key, context.Cause(ctx))
	}
}

// hub returns the hub for channel, starting it on first use.
func (w *watchers) hub(ctx context.Context, channel string) (*hub, error) {
	addr := ""
	var node *redis.Client
	if w.s.cluster != nil {
		var err error
		if node, err = w.s.cluster.MasterForKey(ctx, channel); err != nil {
			return nil, err
		}
		addr = node.Options().Addr
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	if h := w.hubs[addr]; h != nil {
		return h, nil
	}
	h := &hub{sharded: w.s.pubCmd == "SPUBLISH", done: make(chan struct{}), subs: make(map[string]*sub)}
	var c interface {
		Subscribe(context.Context, ...string) *redis.PubSub
		SSubscribe(context.Context, ...string) *redis.PubSub
	} = w.s.client
	if node != nil {
		c = node
	}
	// Without channels these make no connection yet.
	if h.sharded {
		h.ps = c.SSubscribe(context.Background())
	} else {
		h.ps = c.Subscribe(context.Background())
	}
	if w.hubs == nil {
		w.hubs = make(map[string]*hub)
	}
	w.hubs[addr] = h
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		h.receive()
	}()
	return h, nil
}

func (w *watchers) close() {
	w.mu.Lock()
	w.closed = true
	hubs := w.hubs
	w.hubs = nil
	w.mu.Unlock()
	for _, h := range hubs {
		close(h.done)
		_ = h.ps.Close()
		h.wakeAll()
	}
	w.wg.Wait()
}

// subscribe sends the subscription; h.mu is held so that subscriptions and
// unsubscriptions of one channel reach the server in map order.
func (h *hub) subscribe(ctx context.Context, channel string) error {
	if h.sharded {
		return h.ps.SSubscribe(ctx, channel)
	}
	return h.ps.Subscribe(ctx, channel)
}

func (h *hub) release(channel string, e *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.n--; e.n > 0 || h.subs[channel] != e {
		return
	}
	delete(h.subs, channel)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A failed unsubscribe only leaves a channel nobody listens to; the
	// next reconnect drops it.
	if h.sharded {
		_ = h.ps.SUnsubscribe(ctx, channel)
	} else {
		_ = h.ps.Unsubscribe(ctx, channel)
	}
}

// receive reads the subscription connection until the hub is closed.
func (h *hub) receive() {
	backoff := 10 * time.Millisecond
	for {
		msg, err := h.ps.Receive(context.Background())
		select {
		case <-h.done:
			return
		default:
		}
		if err != nil {
			// The connection broke: messages may have been lost, so wake
			// everyone to look at their records again. go-redis
			// reconnects and resubscribes on the next Receive.
			h.wakeAll()
			t := time.NewTimer(backoff)
			select {
			case <-h.done:
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Message:
			h.wake(m.Channel, false)
		case *redis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				h.mu.Lock()
				if e := h.subs[m.Channel]; e != nil {
					closeOnce(e.ready)
				}
				h.mu.Unlock()
			case "unsubscribe", "sunsubscribe":
				// Ours, or the server's (a Cluster slot moved): if
				// someone still watches, let them re-check and re-watch.
				h.wake(m.Channel, true)
			}
		}
	}
}

// wake closes the channel's waiters' channel; drop also forgets the
// channel so that the next Watch subscribes afresh.
func (h *hub) wake(channel string, drop bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.subs[channel]
	if e == nil {
		return
	}
	close(e.ch)
	e.ch = make(chan struct{})
	closeOnce(e.ready)
	if drop {
		delete(h.subs, channel)
	}
}

func (h *hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.subs {
		close(e.ch)
		e.ch = make(chan struct{})
		closeOnce(e.ready)
	}
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
