//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/storetest"
)

// TestWatchWokenByEveryChange makes each kind of change to a key through
// the Store its watcher watches, with polling off: the change wakes the
// watcher before the call returns, and a watcher of another key stays
// quiet.
func TestWatchWokenByEveryChange(t *testing.T) {
	t.Parallel()
	done := idempotency.Outcome{Status: idempotency.StatusCompleted, TTL: time.Minute}
	cases := []struct {
		name string
		// before readies the key; change is the call that must wake its
		// watcher.
		before func(ctx context.Context, s *filestore.Store) error
		change func(ctx context.Context, s *filestore.Store, clk *storetest.Clock, tok idempotency.Token) error
	}{
		{"Claim", nil, func(ctx context.Context, s *filestore.Store, _ *storetest.Clock, _ idempotency.Token) error {
			_, err := s.Claim(ctx, claimReq("k"))
			return err
		}},
		{"TakeOver", claimK, func(ctx context.Context, s *filestore.Store, clk *storetest.Clock, _ idempotency.Token) error {
			clk.Advance(2 * time.Minute) // past the lease
			c, err := s.Claim(ctx, claimReq("k"))
			if err == nil && !c.TookOver {
				err = fmt.Errorf("claim after the lease = %+v, want a takeover", c)
			}
			return err
		}},
		{"Complete", claimK, func(ctx context.Context, s *filestore.Store, _ *storetest.Clock, tok idempotency.Token) error {
			return s.Complete(ctx, "k", tok, done)
		}},
		{"Release", claimK, func(ctx context.Context, s *filestore.Store, _ *storetest.Clock, tok idempotency.Token) error {
			return s.Release(ctx, "k", tok)
		}},
		{"Delete", claimK, func(ctx context.Context, s *filestore.Store, _ *storetest.Clock, _ idempotency.Token) error {
			return s.Delete(ctx, "k")
		}},
		{"Sweep", func(ctx context.Context, s *filestore.Store) error {
			c, err := s.Claim(ctx, claimReq("k"))
			if err == nil {
				err = s.Complete(ctx, "k", c.Record.Token, done)
			}
			return err
		}, func(ctx context.Context, s *filestore.Store, clk *storetest.Clock, _ idempotency.Token) error {
			clk.Advance(2 * time.Minute) // past the outcome's TTL
			n, err := s.Sweep(ctx)
			if err == nil && n != 1 {
				err = fmt.Errorf("Sweep removed %d records, want 1", n)
			}
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			s := newStore(t, &filestore.Options{Now: clk.Now, NoSync: true, SweepInterval: -1, PollInterval: -1})
			ctx := testCtx(t)
			var tok idempotency.Token
			if c.before != nil {
				if err := c.before(ctx, s); err != nil {
					t.Fatalf("before: %v", err)
				}
				if rec, err := s.Get(ctx, "k"); err == nil {
					tok = rec.Token
				}
			}
			ch, stop, err := s.Watch(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			quiet, stopQuiet, err := s.Watch(ctx, "other")
			if err != nil {
				t.Fatal(err)
			}
			defer stopQuiet()
			if err := c.change(ctx, s, clk, tok); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			select {
			case <-ch:
			default:
				t.Fatalf("watcher not woken by %s", c.name)
			}
			select {
			case <-quiet:
				t.Fatalf("watcher of another key woken by %s", c.name)
			default:
			}
		})
	}
}

func claimK(ctx context.Context, s *filestore.Store) error {
	_, err := s.Claim(ctx, claimReq("k"))
	return err
}

// TestWatchStopLeavesOthers stops one of two watchers of a key: the other
// is still woken by the next change, with polling off.
func TestWatchStopLeavesOthers(t *testing.T) {
	t.Parallel()
	s := newStore(t, &filestore.Options{NoSync: true, SweepInterval: -1, PollInterval: -1})
	ctx := testCtx(t)
	_, stopA, err := s.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	b, stopB, err := s.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer stopB()
	stopA()
	stopA() // a second stop does nothing
	if _, err := s.Claim(ctx, claimReq("k")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b:
	default:
		t.Fatal("watcher not woken by a claim after another watcher of the key stopped")
	}
}
