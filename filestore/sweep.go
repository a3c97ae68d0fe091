package filestore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// Sweep implements idemtype.Sweeper: it removes the records that expired
// by the store's clock, and temporary files older than a minute (left by a
// process that died while writing). Corrupt record files are left for an
// operator (see Delete) and not counted.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	n := 0
	err := s.scan(ctx, func(l loc, name string) error {
		// The expiry is in the header: read that much first, so that a
		// sweep does not read every live record's value.
		if !s.expiredHeader(l.file) {
			return nil
		}
		if err := s.lock(ctx, l.st); err != nil {
			return err
		}
		defer s.unlock(l.st)
		b, err := os.ReadFile(l.file)
		if err != nil {
			return nil // removed meanwhile, or unreadable: not ours to judge
		}
		rec, err := decode(b)
		if err != nil || !s.belongs(l, &rec) || idemtype.Live(&rec, s.now()) {
			return nil // corrupt (left for an operator) or live
		}
		if err := s.remove(l); err != nil {
			return err
		}
		n++
		s.notify(l.st, rec.Key)
		return nil
	})
	if err == nil {
		err = s.sweepTemp(ctx)
	}
	return n, opErr("sweep", "", err)
}

func (s *Store) expiredHeader(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [headerSize]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return false
	}
	at, ok := headerExpiry(h[:])
	return ok && !idemtype.Live(&idemtype.Record{ExpiresAt: at}, s.now())
}

func (s *Store) sweepTemp(ctx context.Context) error {
	dir := filepath.Join(s.dir, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-staleTemp)
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// List implements idemtype.Lister. It reads every record file. Corrupt
// files are skipped, and the first of them is reported (a *CorruptError)
// once the scan is over, since their keys cannot be known.
func (s *Store) List(ctx context.Context, prefix string, fn func(idemtype.Record) bool) error {
	var bad error
	errStop := errors.New("stop")
	err := s.scan(ctx, func(l loc, name string) error {
		b, err := os.ReadFile(l.file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rec, err := decode(b)
		if err == nil && !s.belongs(l, &rec) {
			err = errors.New("holds the record of a key that belongs in another file")
		}
		if err != nil {
			if bad == nil {
				bad = corrupt(l.file, err.Error())
			}
			return nil
		}
		if !strings.HasPrefix(rec.Key, prefix) || !idemtype.Live(&rec, s.now()) {
			return nil
		}
		if !fn(rec) {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	if err == nil {
		err = bad
	}
	return opErr("list", "", err)
}

// belongs reports whether rec, read from l's file by a scan, is that
// file's record: a record of another key (a file copied by hand) is
// corrupt there, whatever it says.
func (s *Store) belongs(l loc, rec *idemtype.Record) bool {
	return s.locate(rec.Key).file == l.file
}

// scan calls f for every record file, with its location derived from its
// name. Files whose names are not record names are ignored.
func (s *Store) scan(ctx context.Context, f func(l loc, name string) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	root := filepath.Join(s.dir, "records")
	for i := range fanout {
		dir := filepath.Join(root, fmt.Sprintf("%02x", i))
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			h, err := base64.RawURLEncoding.DecodeString(e.Name())
			if err != nil || len(h) != 32 || int(h[0]) != i || !e.Type().IsRegular() {
				continue
			}
			l := loc{dir: dir, file: filepath.Join(dir, e.Name()), st: &s.stripes[stripeOf(h)]}
			if err := f(l, e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}
