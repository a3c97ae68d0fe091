package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// Store is an idemtype.Store kept in a directory that many processes on one
// host share. The zero value is not usable; call New.
type Store struct {
	dir      string
	now      func() time.Time
	noSync   bool
	fileMode os.FileMode
	dirMode  os.FileMode
	poll     time.Duration
	stripes  [stripes]stripe

	syncs, writes, removes atomic.Uint64
	// trace, when set (tests only, before the store is used), sees every
	// fsync, rename and removal with its path, in order.
	trace func(op, path string)
	// backoff, when set (tests only, before the store is used), sees every
	// wait of a lock taker polling a flock another process holds.
	backoff func(time.Duration)

	life idemtype.Lifecycle
}

var (
	_ idemtype.Store   = (*Store)(nil)
	_ idemtype.Watcher = (*Store)(nil)
	_ idemtype.Lister  = (*Store)(nil)
	_ idemtype.Sweeper = (*Store)(nil)
)

// formatFile names the file that marks a directory as a store and records
// its layout version, so that a future layout is refused, not misread.
const (
	formatFile = "FORMAT"
	formatText = "idempotency filestore 1\n"
)

// New opens the store in dir, creating the directory and its layout if
// needed. A nil opts means defaults. Call Close when done with it to stop
// its sweeper and close its lock files.
func New(dir string, opts *Options) (*Store, error) {
	if err := platformSupported(); err != nil {
		return nil, opErr("open", "", err)
	}
	if dir == "" {
		return nil, opErr("open", "", errors.New("empty directory name"))
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Store{
		dir:      dir,
		now:      o.Now,
		noSync:   o.NoSync,
		fileMode: o.FileMode.Perm(),
		poll:     o.PollInterval,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.fileMode == 0 {
		s.fileMode = defaultFileMode
	}
	s.dirMode = s.fileMode | (s.fileMode&0o444)>>2
	if s.poll == 0 {
		s.poll = defaultPollInterval
	}
	if err := s.layout(); err != nil {
		return nil, opErr("open", "", err)
	}
	for i := range s.stripes {
		s.stripes[i] = stripe{path: s.stripePath(i), sem: make(chan struct{}, 1)}
	}
	interval := o.SweepInterval
	if interval == 0 {
		interval = defaultSweepInterval
	}
	if interval > 0 {
		s.life.Sweep(interval, func(ctx context.Context) { _, _ = s.Sweep(ctx) })
	}
	return s, nil
}

// layout creates the directory tree: records/00..ff, locks, tmp (on the
// same file system as records, so that rename is atomic) and FORMAT.
func (s *Store) layout() error {
	dirs := []string{s.dir, filepath.Join(s.dir, "locks"), filepath.Join(s.dir, "tmp"), filepath.Join(s.dir, "records")}
	for i := range fanout {
		dirs = append(dirs, filepath.Join(s.dir, "records", hex.EncodeToString([]byte{byte(i)})))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, s.dirMode); err != nil {
			return err
		}
	}
	path := filepath.Join(s.dir, formatFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// Link fails if another process created the file meanwhile: the
		// first one wins and every process reads the same text.
		tmp, terr := s.writeTemp([]byte(formatText))
		if terr != nil {
			return terr
		}
		err = os.Link(tmp, path)
		_ = os.Remove(tmp)
		if err == nil || errors.Is(err, fs.ErrExist) {
			b, err = os.ReadFile(path)
		}
		if err == nil {
			for _, d := range []string{s.dir, filepath.Join(s.dir, "records")} {
				if err = s.syncDir(d); err != nil {
					break
				}
			}
		}
	}
	if err != nil {
		return err
	}
	if string(b) != formatText {
		return fmt.Errorf("%s: unknown store format %q", path, b)
	}
	return nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// loc is where a key's record lives.
type loc struct {
	dir, file string
	st        *stripe
}

// locate derives a key's file from SHA-256 of the key: any key bytes, no
// path traversal, no two keys sharing a file short of a SHA-256 collision
// (which the key stored in the file would still expose).
func (s *Store) locate(key string) loc {
	h := sha256.Sum256([]byte(key))
	dir := filepath.Join(s.dir, "records", hex.EncodeToString(h[:1]))
	return loc{
		dir:  dir,
		file: filepath.Join(dir, base64.RawURLEncoding.EncodeToString(h[:])),
		st:   &s.stripes[stripeOf(h[:])],
	}
}

func stripeOf(h []byte) int { return int(binary.BigEndian.Uint32(h[len(h)-4:]) % stripes) }

// read returns the record in l.file and whether there is one. A file that
// does not decode, or holds another key, is a *CorruptError. Records are
// replaced by rename and never written in place, so the opened file is a
// consistent snapshot even without the lock.
func (s *Store) read(l loc, key string) (idemtype.Record, bool, error) {
	b, err := os.ReadFile(l.file)
	if errors.Is(err, fs.ErrNotExist) {
		return idemtype.Record{}, false, nil
	}
	if err != nil {
		return idemtype.Record{}, false, fmt.Errorf("read record: %w", err)
	}
	rec, err := decode(b)
	if err != nil {
		return idemtype.Record{}, false, corrupt(l.file, err.Error())
	}
	if rec.Key != key {
		return idemtype.Record{}, false, corrupt(l.file, fmt.Sprintf("holds the record of another key (%d bytes)", len(rec.Key)))
	}
	return rec, true, nil
}

// Claim implements idemtype.Store. A duplicate (a live record that is not
// to be taken over) is answered from one read of its file, without a lock
// or a write.
func (s *Store) Claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	c, err := s.claim(ctx, req)
	return c, opErr("claim", req.Key, err)
}

func (s *Store) claim(ctx context.Context, req idemtype.ClaimRequest) (idemtype.Claim, error) {
	if err := s.usable(ctx); err != nil {
		return idemtype.Claim{}, err
	}
	l := s.locate(req.Key)
	rec, ok, err := s.read(l, req.Key)
	if err != nil {
		return idemtype.Claim{}, err
	}
	if ok {
		if v, abandoned := idemtype.JudgeClaim(&rec, &req, s.now()); v == idemtype.Refuse {
			return idemtype.Claim{Record: rec, Abandoned: abandoned}, nil
		}
	}
	if err := s.lock(ctx, l.st); err != nil {
		return idemtype.Claim{}, err
	}
	defer s.unlock(l.st)
	rec, ok, err = s.read(l, req.Key)
	if err != nil {
		return idemtype.Claim{}, err
	}
	now := s.now()
	var old *idemtype.Record
	if ok {
		old = &rec
	}
	v, abandoned := idemtype.JudgeClaim(old, &req, now)
	if v == idemtype.Refuse {
		return idemtype.Claim{Record: rec, Abandoned: abandoned}, nil
	}
	// An expired record's token still bounds the next one from below.
	var prev idemtype.Token
	if ok {
		prev = rec.Token
	}
	tok, err := s.nextToken(l.st, prev, now)
	if err != nil {
		return idemtype.Claim{}, err
	}
	created := rec.CreatedAt
	rec = idemtype.Claimed(req, tok, now)
	if v == idemtype.TakeOver {
		rec.CreatedAt = created
	}
	if err := s.put(l, &rec); err != nil {
		return idemtype.Claim{}, err
	}
	s.notify(l.st, req.Key)
	return idemtype.Claim{Acquired: true, TookOver: v == idemtype.TakeOver, Record: rec}, nil
}

// Extend implements idemtype.Store.
func (s *Store) Extend(ctx context.Context, key string, token idemtype.Token, lease time.Duration) error {
	return s.owned(ctx, "extend", key, token, func(l loc, rec *idemtype.Record, now time.Time) error {
		idemtype.Extended(rec, lease, now)
		// No directory fsync: an extension lost to a power loss only
		// shortens a lease whose executor died with the host.
		return s.write(l, rec, false)
	})
}

// Complete implements idemtype.Store.
func (s *Store) Complete(ctx context.Context, key string, token idemtype.Token, out idemtype.Outcome) error {
	if err := idemtype.CheckOutcome(out); err != nil {
		return opErr("complete", key, err)
	}
	return s.owned(ctx, "complete", key, token, func(l loc, rec *idemtype.Record, now time.Time) error {
		idemtype.Completed(rec, out, now)
		if err := s.put(l, rec); err != nil {
			return err
		}
		s.notify(l.st, key)
		return nil
	})
}

// Release implements idemtype.Store.
func (s *Store) Release(ctx context.Context, key string, token idemtype.Token) error {
	return s.owned(ctx, "release", key, token, func(l loc, _ *idemtype.Record, _ time.Time) error {
		if err := s.remove(l); err != nil {
			return err
		}
		s.notify(l.st, key)
		return nil
	})
}

// owned runs f under the key's lock if token owns the key's record, and
// labels a failure with op.
func (s *Store) owned(ctx context.Context, op, key string, token idemtype.Token, f func(loc, *idemtype.Record, time.Time) error) error {
	if err := s.usable(ctx); err != nil {
		return opErr(op, key, err)
	}
	l := s.locate(key)
	if err := s.lock(ctx, l.st); err != nil {
		return opErr(op, key, err)
	}
	defer s.unlock(l.st)
	rec, ok, err := s.read(l, key)
	if err != nil {
		return opErr(op, key, err)
	}
	now := s.now()
	if !ok || !idemtype.Owns(&rec, token, now) {
		return idemtype.ErrLeaseLost
	}
	return opErr(op, key, f(l, &rec, now))
}

// Get implements idemtype.Store. It reads the record file without a lock.
func (s *Store) Get(ctx context.Context, key string) (idemtype.Record, error) {
	if err := s.usable(ctx); err != nil {
		return idemtype.Record{}, opErr("get", key, err)
	}
	rec, ok, err := s.read(s.locate(key), key)
	if err != nil {
		return idemtype.Record{}, opErr("get", key, err)
	}
	if !ok || !idemtype.Live(&rec, s.now()) {
		return idemtype.Record{}, idemtype.ErrNotFound
	}
	return rec, nil
}

// Delete implements idemtype.Store. It also removes a corrupt record file,
// which is how an operator clears one.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.usable(ctx); err != nil {
		return opErr("delete", key, err)
	}
	l := s.locate(key)
	if err := s.lock(ctx, l.st); err != nil {
		return opErr("delete", key, err)
	}
	defer s.unlock(l.st)
	if err := s.remove(l); err != nil {
		return opErr("delete", key, err)
	}
	s.notify(l.st, key)
	return nil
}

// Stats counts what the store did to the file system since New.
type Stats struct {
	// Syncs is the number of fsync calls, on files and directories.
	Syncs uint64
	// Writes is the number of record files written (renamed into place).
	Writes uint64
	// Removes is the number of record files removed.
	Removes uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{Syncs: s.syncs.Load(), Writes: s.writes.Load(), Removes: s.removes.Load()}
}

// Close implements idemtype.Closer: it stops the background sweeper,
// wakes every watcher and closes the lock files; every operation after it
// fails with idemtype.ErrClosed. The records stay in the directory for a
// Store opened on it again.
func (s *Store) Close() error {
	return s.life.Close(func() error {
		var errs []error
		for i := range s.stripes {
			st := &s.stripes[i]
			st.wakeAll()
			// Under sem: an operation that takes the stripe later sees
			// the store closed and does not open the file again.
			st.sem <- struct{}{}
			if st.f != nil {
				errs = append(errs, st.f.Close())
				st.f = nil
			}
			<-st.sem
		}
		return errors.Join(errs...)
	})
}

// usable reports why an operation may not run: the store is closed, or
// ctx ended.
func (s *Store) usable(ctx context.Context) error {
	if s.life.Closed() {
		return idemtype.ErrClosed
	}
	return ctx.Err()
}
