package idemkafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/msgguard"
)

// Handler handles one record. Its effect is what runs at most once.
type Handler func(ctx context.Context, r *kgo.Record) error

// Errors, for errors.Is.
var (
	// ErrSkip: the record can never be handled (no key, a key reused with
	// other content, an execution abandoned under the guard's NoTakeover,
	// a failure remembered under its OnFailure Remember); Run commits past
	// it after Config.OnSkip. The cause is wrapped too.
	ErrSkip = errors.New("idempotency: idemkafka: record skipped")
	// ErrNoKey: a record has no key (Config.Header missing, or
	// Config.Key returned "").
	ErrNoKey = errors.New("idempotency: idemkafka: record has no key")
)

// Consumer runs a Handler at most once per record key.
type Consumer struct {
	g        *idempotency.Guard
	h        Handler
	cfg      Config
	opts     []idempotency.CallOption
	remember bool
	log      *slog.Logger
}

// New returns a Consumer running h with g: see the package
// documentation. A nil cfg means defaults. New panics on a nil Guard or
// Handler or an invalid Config.
func New(g *idempotency.Guard, h Handler, cfg *Config) *Consumer {
	if g == nil || h == nil {
		panic("idempotency: idemkafka: nil Guard or Handler")
	}
	c := &Consumer{g: g, h: h, cfg: cfg.withDefaults(), log: g.Config().Logger,
		opts:     []idempotency.CallOption{idempotency.WithWaitTimeout(-1)},
		remember: g.Config().OnFailure == idempotency.Remember}
	if c.cfg.TTL != 0 {
		c.opts = append(c.opts, idempotency.WithTTL(c.cfg.TTL))
	}
	if c.cfg.OnSkip == nil {
		c.cfg.OnSkip = func(ctx context.Context, r *kgo.Record, err error) {
			c.log.LogAttrs(ctx, slog.LevelWarn, "idempotency: idemkafka: record skipped",
				slog.String("topic", r.Topic), slog.Int("partition", int(r.Partition)),
				slog.Int64("offset", r.Offset), slog.Any("error", err))
		}
	}
	return c
}

// Handle makes one attempt at r, for a consumer loop of one's own (Run is
// one). What its error means for r's offset:
//
//   - nil: handled, now or before: commit;
//   - matching ErrSkip: can never be handled: commit past it;
//   - matching idempotency.ErrNotRecorded: the handler ran but its outcome
//     could not be recorded: commit, since trying again would run it again;
//   - anything else, such as idempotency.ErrInProgress (another consumer
//     handles the key now), idempotency.ErrStore (the handler did not
//     run) or the handler's own error: do not commit; try again later.
func (c *Consumer) Handle(ctx context.Context, r *kgo.Record) error {
	key, err := c.cfg.key(r)
	if err == nil && key == "" {
		err = ErrNoKey
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSkip, err)
	}
	key = RecordKey(c.cfg.KeyPrefix, c.cfg.Name, key)
	ran, err := msgguard.Run(ctx, c.g, key, fingerprint(r), c.opts, func(ctx context.Context) error { return c.h(ctx, r) })
	switch {
	case err == nil, ran && errors.Is(err, idempotency.ErrNotRecorded):
		return err
	case ran:
		if c.remember && ctx.Err() == nil {
			return fmt.Errorf("%w: %w", ErrSkip, err) // remembered: final
		}
		return err
	case errors.Is(err, idempotency.ErrInProgress):
		return err
	case errors.Is(err, idempotency.ErrDuplicate), errors.Is(err, idempotency.ErrResultUnavailable):
		return nil // handled before; only the (empty) result is unavailable
	case errors.Is(err, idempotency.ErrFailed), errors.Is(err, idempotency.ErrKeyReused),
		errors.Is(err, idempotency.ErrAbandoned), errors.Is(err, idempotency.ErrInvalidKey):
		return fmt.Errorf("%w: %w", ErrSkip, err)
	}
	return err
}

// Run polls cl and handles its records until ctx ends or cl is closed,
// committing each record's offset only once it may be committed (see
// Handle). A record that may not is tried again after Config.BusyDelay or
// Config.RetryDelay, so records of a partition are handled in order and
// none is committed before those ahead of it. Partitions of one poll are
// handled one after the other.
//
// cl must consume as a group member with kgo.DisableAutoCommit; with
// kgo.BlockRebalanceOnPoll, Run allows rebalances between polls. A commit
// that fails (a partition revoked meanwhile) is logged: the partition's
// next owner gets those records again, finds them handled, and commits
// them. Run returns ctx's error, or nil once cl is closed.
func (c *Consumer) Run(ctx context.Context, cl *kgo.Client) error {
	for {
		fetches := cl.PollFetches(ctx)
		if fetches.IsClientClosed() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			c.log.LogAttrs(ctx, slog.LevelWarn, "idempotency: idemkafka: fetch failed",
				slog.String("topic", topic), slog.Int("partition", int(partition)), slog.Any("error", err))
		})
		var done []*kgo.Record
		var stop error
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if stop != nil {
					return
				}
				if stop = c.settle(ctx, r); stop == nil {
					done = append(done, r)
				}
			}
		})
		c.commit(ctx, cl, done)
		cl.AllowRebalance()
		if stop != nil {
			return stop
		}
	}
}

// settle tries r until it may be committed, or ctx ends.
func (c *Consumer) settle(ctx context.Context, r *kgo.Record) error {
	for {
		err := c.Handle(ctx, r)
		switch {
		case err == nil, errors.Is(err, idempotency.ErrNotRecorded):
			return nil
		case errors.Is(err, ErrSkip):
			c.cfg.OnSkip(ctx, r, err)
			return nil
		}
		delay := c.cfg.RetryDelay
		if errors.Is(err, idempotency.ErrInProgress) {
			delay = c.cfg.BusyDelay
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// commit commits the offsets past records, even when ctx has ended: they
// were handled.
func (c *Consumer) commit(ctx context.Context, cl *kgo.Client, records []*kgo.Record) {
	if len(records) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cl.CommitRecords(cctx, records...); err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "idempotency: idemkafka: commit failed", slog.Any("error", err))
	}
}
