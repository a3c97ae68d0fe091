package filestore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/idempotency-go/idempotency/idemtype"
)

// put replaces the key's record file crash-safely: the record goes to a
// temporary file that is fsynced, renamed over the record file (atomic: a
// reader opens the old file or the new one, never a mix) and the directory
// is fsynced so that the rename itself survives a power loss. Two fsyncs.
func (s *Store) put(l loc, rec *idemtype.Record) error { return s.write(l, rec, true) }

// write is put with the directory fsync optional. Without it the rename may
// be lost to a power loss, leaving the previous record, never a torn one.
func (s *Store) write(l loc, rec *idemtype.Record, durable bool) error {
	if uint64(len(rec.Key)) > maxField || uint64(len(rec.Fingerprint)) > maxField || uint64(len(rec.Value)) > maxField {
		return fmt.Errorf("key, fingerprint or value longer than the record format's %d bytes", uint64(maxField))
	}
	tmp, err := s.writeTemp(encode(rec))
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, l.file); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	s.traced("rename", l.file)
	s.writes.Add(1)
	if !durable {
		return nil
	}
	return s.syncDir(l.dir)
}

// writeTemp writes data to a new file in tmp/ and fsyncs it.
func (s *Store) writeTemp(data []byte) (string, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	// The pid helps an operator; the random part makes the name unique.
	name := filepath.Join(s.dir, "tmp", strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(rnd[:])+".tmp")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, s.fileMode)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil && !s.noSync {
		err = f.Sync()
		s.syncs.Add(1)
		s.traced("fsync", name)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("write record: %w", err)
	}
	return name, nil
}

// remove deletes the key's record file, if any, durably. One fsync.
func (s *Store) remove(l loc) error {
	err := os.Remove(l.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	s.traced("remove", l.file)
	s.removes.Add(1)
	return s.syncDir(l.dir)
}

func (s *Store) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	err = d.Sync()
	s.syncs.Add(1)
	s.traced("fsync dir", dir)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

func (s *Store) traced(op, path string) {
	if s.trace != nil {
		s.trace(op, path)
	}
}
