package filestore

import (
	"os"
	"time"
)

// Options configures a Store. The zero value, like a nil *Options, means
// defaults. Every process sharing a directory may use its own Options.
type Options struct {
	// Now is the store's clock, for tests that move time by hand. Leases
	// and expiry are judged on it, so processes sharing a directory must
	// agree on it. Default: time.Now (the host clock).
	Now func() time.Time
	// SweepInterval is how often a background goroutine removes expired
	// records and stray temporary files; Close stops it. Default: one
	// minute. Negative: no goroutine (call Sweep yourself).
	SweepInterval time.Duration
	// PollInterval is how often a Watch looks at the record file for a
	// change made by another process. Changes made through this Store wake
	// its watchers at once. Default: 100ms. Negative: never poll (only
	// in-process changes wake watchers).
	PollInterval time.Duration
	// FileMode is the permission of the files the store creates, before
	// the umask; directories get the matching execute bits. Default: 0600
	// (directories 0700). Use 0660 for processes of one group.
	FileMode os.FileMode
	// NoSync skips every fsync. UNSAFE: a power loss or kernel crash can
	// then lose or tear records, so that a completed call runs again or a
	// key reports a corrupt record. A process crash loses nothing either
	// way. For tests and benchmarks only. Default: false.
	NoSync bool
}

const (
	defaultSweepInterval = time.Minute
	defaultPollInterval  = 100 * time.Millisecond
	defaultFileMode      = 0o600
	// stripes is the number of lock files. Fixed, not an option, since
	// every process sharing a directory must map keys to the same locks.
	stripes = 64
	// fanout is the number of record subdirectories (the first hash byte).
	fanout = 256
	// staleTemp is how old a temporary file must be before Sweep removes
	// it: older than any write in progress.
	staleTemp = time.Minute
)
