package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idempotency-go/idempotency"
)

// Every command declares its flags the same way: a struct of them with
// register (declare on a FlagSet, with defaults) and check (the usage
// mistake in their values, "" when none), run once parsing succeeded.

// guardFlags are the guard's flags, which run and proxy share.
type guardFlags struct {
	ttl        ttlFlag
	lease      time.Duration
	wait       time.Duration
	noTakeover bool
}

func (f *guardFlags) register(fs *flag.FlagSet) {
	f.ttl.d = idempotency.DefaultTTL
	fs.Var(&f.ttl, "ttl", "")
	fs.DurationVar(&f.lease, "lease", idempotency.DefaultLease, "")
	fs.DurationVar(&f.wait, "wait", 0, "")
	fs.BoolVar(&f.noTakeover, "no-takeover", false, "")
}

func (f *guardFlags) check() string {
	switch {
	case f.lease < time.Millisecond:
		return fmt.Sprintf("--lease must be at least 1ms, not %v", f.lease)
	case f.wait < 0:
		return fmt.Sprintf("--wait must not be negative, not %v", f.wait)
	}
	return ""
}

// config is the guard's Config of the flags, or the mistake that
// Config.Validate finds in them (a TTL shorter than the lease).
func (f *guardFlags) config() (*idempotency.Config, string) {
	cfg := &idempotency.Config{TTL: f.ttl.d, Lease: f.lease, NoTakeover: f.noTakeover}
	if err := cfg.Validate(); err != nil {
		return nil, strings.TrimPrefix(err.Error(), "idempotency: ")
	}
	return cfg, ""
}

// ttlFlag is a duration flag that also takes "forever" (NoExpiry) and a
// number of days ("7d").
type ttlFlag struct{ d time.Duration }

func (f *ttlFlag) String() string {
	if f.d == idempotency.NoExpiry {
		return "forever"
	}
	return f.d.String()
}

func (f *ttlFlag) Set(s string) error {
	if s == "forever" {
		f.d = idempotency.NoExpiry
		return nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("invalid TTL %q", s)
		}
		f.d = time.Duration(n) * 24 * time.Hour
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("invalid TTL %q (want a positive duration like 90m, 7d, or forever)", s)
	}
	f.d = d
	return nil
}

// sizeFlag is a byte count flag that takes K, M and G suffixes (powers
// of 1024, with an optional "iB").
type sizeFlag struct{ n int64 }

func (f *sizeFlag) String() string { return strconv.FormatInt(f.n, 10) }

func (f *sizeFlag) Set(s string) error {
	num, mult := strings.TrimSuffix(strings.TrimSuffix(s, "B"), "i"), int64(1)
	if num != "" {
		switch num[len(num)-1] {
		case 'K', 'k':
			mult = 1 << 10
		case 'M', 'm':
			mult = 1 << 20
		case 'G', 'g':
			mult = 1 << 30
		}
		if mult > 1 {
			num = num[:len(num)-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return fmt.Errorf("invalid size %q (want bytes, or a number with K, M or G)", s)
	}
	f.n = n * mult
	return nil
}
