package idemnats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/msgguard"
)

// Handler handles one message. Its effect is what runs at most once.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// Wrap returns a Handler that runs h at most once per message key and
// settles every message itself (Ack, Nak or Term): see the package
// documentation. It returns nil when the message was acked as handled. A
// nil cfg means defaults. Wrap panics on a nil Guard or Handler or an
// invalid Config.
func Wrap(g *idempotency.Guard, h Handler, cfg *Config) Handler {
	if g == nil || h == nil {
		panic("idempotency: idemnats: nil Guard or Handler")
	}
	c := cfg.withDefaults()
	w := &wrapper{g: g, h: h, cfg: c, log: g.Config().Logger,
		opts:     []idempotency.CallOption{idempotency.WithWaitTimeout(-1)},
		remember: g.Config().OnFailure == idempotency.Remember}
	if c.TTL != 0 {
		w.opts = append(w.opts, idempotency.WithTTL(c.TTL))
	}
	return w.handle
}

// MessageHandler adapts h to jetstream.Consumer.Consume, calling it with
// ctx for every message. h's errors are dropped: a Handler made by Wrap
// has settled the message already.
func MessageHandler(ctx context.Context, h Handler) jetstream.MessageHandler {
	return func(msg jetstream.Msg) { _ = h(ctx, msg) }
}

type wrapper struct {
	g        *idempotency.Guard
	h        Handler
	cfg      Config
	opts     []idempotency.CallOption
	remember bool
	log      *slog.Logger
}

func (w *wrapper) handle(ctx context.Context, msg jetstream.Msg) error {
	key, err := w.cfg.Key(msg)
	if err == nil && key == "" {
		err = ErrNoKey
	}
	if err != nil {
		return w.term(ctx, msg, "no idempotency key", fmt.Errorf("idempotency: idemnats: %w", err))
	}
	key = RecordKey(w.cfg.KeyPrefix, w.cfg.Name, key)
	ran, err := msgguard.Run(ctx, w.g, key, fingerprint(msg), w.opts, func(ctx context.Context) error { return w.h(ctx, msg) })
	switch {
	case err == nil:
		// Handled now and recorded, or handled before.
		return w.settle(ctx, msg, "ack", msg.Ack(), nil)
	case ran && errors.Is(err, idempotency.ErrNotRecorded):
		// Handled, but the store failed to record it. A redelivery would
		// run the handler again once the claim lapses: the effect has
		// happened, so the message is done.
		return w.settle(ctx, msg, "ack", msg.Ack(), err)
	case ran:
		if w.remember && ctx.Err() == nil {
			return w.term(ctx, msg, "handler failed", err)
		}
		return w.settle(ctx, msg, "nak", w.nak(msg, w.cfg.RetryDelay), err)
	case errors.Is(err, idempotency.ErrInProgress):
		return w.settle(ctx, msg, "nak", msg.NakWithDelay(w.cfg.BusyDelay), err)
	case errors.Is(err, idempotency.ErrDuplicate),
		errors.Is(err, idempotency.ErrResultUnavailable):
		// Handled before; only the (empty) result is unavailable.
		return w.settle(ctx, msg, "ack", msg.Ack(), nil)
	case errors.Is(err, idempotency.ErrFailed):
		return w.term(ctx, msg, "handler failed before", err)
	case errors.Is(err, idempotency.ErrKeyReused):
		return w.term(ctx, msg, "idempotency key reused with other content", err)
	case errors.Is(err, idempotency.ErrAbandoned):
		return w.term(ctx, msg, "previous handling abandoned", err)
	case errors.Is(err, idempotency.ErrInvalidKey):
		return w.term(ctx, msg, "invalid idempotency key", err)
	}
	// ErrStore, a corrupt record, the caller's context: try again later.
	return w.settle(ctx, msg, "nak", w.nak(msg, w.cfg.RetryDelay), err)
}

func (w *wrapper) nak(msg jetstream.Msg, delay time.Duration) error {
	if delay > 0 {
		return msg.NakWithDelay(delay)
	}
	return msg.Nak()
}

func (w *wrapper) term(ctx context.Context, msg jetstream.Msg, reason string, err error) error {
	return w.settle(ctx, msg, "term", msg.TermWithReason(reason), err)
}

// settle returns err, or the error of the settling operation op when it
// failed; that one is logged, since the message will come again.
func (w *wrapper) settle(ctx context.Context, msg jetstream.Msg, op string, opErr, err error) error {
	if opErr == nil {
		return err
	}
	w.log.LogAttrs(ctx, slog.LevelWarn, "idempotency: idemnats: "+op+" failed",
		slog.String("subject", msg.Subject()), slog.Any("error", opErr))
	return errors.Join(err, fmt.Errorf("idempotency: idemnats: %s: %w", op, opErr))
}
