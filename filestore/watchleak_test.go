//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore

import (
	"context"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// TestWatchesLeaveNothing checks that a watch, once stopped, leaves no
// entry in its stripe: a process whose waiters watch keys that other
// processes complete (so that no change here ever fires them) must not
// keep every watch it ever made.
func TestWatchesLeaveNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		watches int
		// change, if set, changes the key from another Store, which the
		// watches see by polling.
		change bool
	}{
		{"Stopped", 1, false},
		{"TwoStopped", 2, false},
		{"Polled", 2, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := New(dir, &Options{NoSync: true, SweepInterval: -1, PollInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var chans []<-chan struct{}
			var stops []func()
			for range c.watches {
				ch, stop, err := s.Watch(ctx, "k")
				if err != nil {
					t.Fatal(err)
				}
				chans, stops = append(chans, ch), append(stops, stop)
			}
			if c.change {
				other, err := New(dir, &Options{NoSync: true, SweepInterval: -1})
				if err != nil {
					t.Fatal(err)
				}
				defer other.Close()
				if _, err := other.Claim(ctx, idemtype.ClaimRequest{Key: "k", Lease: time.Minute}); err != nil {
					t.Fatal(err)
				}
				for _, ch := range chans {
					select {
					case <-ch:
					case <-ctx.Done():
						t.Fatal("watch not woken by polling within 20s")
					}
				}
			}
			for _, stop := range stops {
				stop()
			}
			st := s.locate("k").st
			st.wmu.Lock()
			defer st.wmu.Unlock()
			if ws, ok := st.watchers["k"]; ok {
				t.Fatalf("%d watches of the key left in its stripe, want none", len(ws))
			}
		})
	}
}
