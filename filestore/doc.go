// Package filestore is an idempotency store in a directory, for many
// processes on one host (web server workers, task queue workers, cron
// jobs): they share records through the file system and exclude each other
// with flock. Records survive process crashes and, unless Options.NoSync
// is set, power loss.
//
// # Layout
//
//	dir/FORMAT                 layout version
//	dir/records/ab/<name>      one file per key
//	dir/locks/00.lock..63.lock lock files, also holding token counters
//	dir/tmp/                   records being written
//
// A record's name is base64url(SHA-256(key)) and its subdirectory the first
// hash byte in hex, so any key bytes are safe (slashes, "..", NUL, 4 KiB),
// and two keys never share a file: the file also holds the full key, and a
// file holding another key is reported as corrupt, never returned. Each
// file ends with a CRC-32C of its content; a torn or damaged file is an
// error matching idempotency.ErrCorrupt (a *CorruptError), never "not
// found". See record.go for the format.
//
// # Writes
//
// A write goes to a temporary file in dir/tmp, which is fsynced, renamed
// over the record file, and the record's directory is fsynced: two fsyncs.
// A first call costs four (claim, complete); a removal (release, delete)
// one; a lease renewal one (the file only: a renewal lost to a power loss
// merely shortens the lease of an executor that died with the host). A duplicate call reads the record file once, without a lock, a
// write or an fsync: files are never changed in place, so an opened file is
// a consistent snapshot.
//
// Every change (claim, extend, complete, release, delete, sweep) is a
// read-decide-write under the key's lock: an in-process lock and a flock on
// one of 64 lock files chosen by the key's hash. The kernel drops a flock
// when its process dies, so a crashed process never leaves a key locked;
// lock files are opened close-on-exec, so child processes do not inherit
// them. Waiting for a lock honours the context.
//
// # Tokens
//
// Tokens come from a counter per lock file, kept in its first 8 bytes and
// advanced under the lock, and are always larger than the token of the
// record they replace. They are therefore strictly increasing per key,
// also after a release, delete or expiry removed the record. A new lock
// file starts its counter at the clock's Unix nanoseconds, so that a store
// whose lock files were lost still hands out larger tokens while the clock
// does not go back. Never delete dir/locks while processes use the store:
// they would no longer exclude each other.
//
// # Time, expiry and watching
//
// Leases and expiry are judged on the host clock (Options.Now), which every
// process of the host shares. Expired records are no longer returned at
// once, and removed by Sweep, which a background goroutine runs every
// Options.SweepInterval until Close; Sweep also removes temporary files
// left by a process that died mid-write. The directory thus holds live
// records, 256 subdirectories and 64 lock files.
//
// The Store is an idempotency.Watcher: changes made through the same Store
// wake waiters at once, and a waiter notices a change made by another
// process by polling the record file's identity (a stat) every
// Options.PollInterval.
//
// # Errors
//
// A failure names the store, the operation and the key, as in
// `idempotency: filestore: complete "order-42": sync directory: ...`: an
// *idemtype.OpError wrapping the cause (errors.Is reaches fs and syscall
// errors), or a *CorruptError for a record that cannot be trusted. The
// contract's replies (idempotency.ErrLeaseLost, ErrNotFound) and context
// errors are returned bare.
//
// The package needs flock(2): Linux, macOS and the BSDs have it. It builds
// everywhere, and elsewhere (Windows, Solaris, Plan 9, WebAssembly) New
// returns an error matching errors.ErrUnsupported.
package filestore
