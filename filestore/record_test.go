//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

func sampleRecords() []idemtype.Record {
	now := time.Unix(0, 1_900_000_000_123_456_789)
	return []idemtype.Record{
		{Key: "k", Status: idemtype.StatusInProgress, Token: 1, LeaseUntil: now.Add(time.Minute), CreatedAt: now, UpdatedAt: now},
		{Key: "a/b\x00\xff", Fingerprint: "fp", Status: idemtype.StatusCompleted, Token: 1 << 62, Value: []byte(`{"id":1}`),
			LeaseUntil: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now.Add(time.Second)},
		{Key: string(bytes.Repeat([]byte{'k'}, 4096)), Status: idemtype.StatusFailed, Token: ^idemtype.Token(0), Value: []byte("boom")},
		// The shortest record: every field empty, every time zero.
		{Status: idemtype.StatusInProgress, Token: 2},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	for _, want := range sampleRecords() {
		got, err := decode(encode(&want))
		if err != nil {
			t.Fatalf("decode(encode(%q)): %v", want.Key, err)
		}
		if got.Key != want.Key || got.Fingerprint != want.Fingerprint || got.Status != want.Status || got.Token != want.Token ||
			!bytes.Equal(got.Value, want.Value) || !got.LeaseUntil.Equal(want.LeaseUntil) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
			!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) || got.ExpiresAt.IsZero() != want.ExpiresAt.IsZero() {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
}

// TestDecodeRejectsEveryFlip flips each bit of a record in turn: no damaged
// file decodes.
func TestDecodeRejectsEveryFlip(t *testing.T) {
	t.Parallel()
	rec := sampleRecords()[1]
	b := encode(&rec)
	for i := range len(b) * 8 {
		d := bytes.Clone(b)
		d[i/8] ^= 1 << (i % 8)
		if got, err := decode(d); err == nil {
			t.Fatalf("bit %d flipped: decoded %+v", i, got)
		}
	}
	for n := range len(b) {
		if _, err := decode(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: decoded", n, len(b))
		}
	}
}

// TestDecodeShortFiles decodes every file shorter than the shortest record,
// each ending in the right checksum of the bytes before it: each is refused
// as too short, none read past its end.
func TestDecodeShortFiles(t *testing.T) {
	t.Parallel()
	rec := sampleRecords()[1]
	full := encode(&rec)
	for n := range headerSize + trailer {
		b := full[:n]
		if n >= trailer {
			body := bytes.Clone(full[:n-trailer])
			b = binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("decode of %d bytes panicked: %v", n, p)
				}
			}()
			if got, err := decode(b); err == nil || !strings.Contains(err.Error(), "shorter than any record") {
				t.Errorf("decode of %d bytes = %+v, %v; want an error: shorter than any record", n, got, err)
			}
		}()
	}
}

// FuzzDecode checks that any bytes either fail to decode or decode to a
// record whose encoding is exactly those bytes: a file is never misread.
func FuzzDecode(f *testing.F) {
	for _, r := range sampleRecords() {
		b := encode(&r)
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(b[:headerSize])
	}
	f.Add([]byte{})
	f.Add([]byte("idem\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decode(b)
		if err != nil {
			return
		}
		if rec.Token == 0 || rec.Status < idemtype.StatusInProgress || rec.Status > idemtype.StatusFailed {
			t.Fatalf("decoded an invalid record %+v", rec)
		}
		if e := encode(&rec); !bytes.Equal(e, b) {
			t.Fatalf("decode then encode changed the bytes:\n in %x\nout %x", b, e)
		}
	})
}

// FuzzStoreKeys stores records under arbitrary keys and checks each comes
// back under its own key only.
func FuzzStoreKeys(f *testing.F) {
	f.Add("a/b", "a_b")
	f.Add("..", "../..")
	f.Add("nul\x00", "nul")
	f.Add("\xff\xfe", "\xff")
	dir := f.TempDir()
	s, err := New(dir, &Options{NoSync: true, SweepInterval: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	f.Fuzz(func(t *testing.T, a, b string) {
		ctx := t.Context()
		for _, k := range []string{a, b} {
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		ca, err := s.Claim(ctx, idemtype.ClaimRequest{Key: a, Fingerprint: "A", Lease: time.Minute})
		if err != nil || !ca.Acquired {
			t.Fatalf("Claim(%q) = %+v, %v", a, ca, err)
		}
		cb, err := s.Claim(ctx, idemtype.ClaimRequest{Key: b, Fingerprint: "B", Lease: time.Minute})
		if err != nil {
			t.Fatalf("Claim(%q): %v", b, err)
		}
		if cb.Acquired != (a != b) {
			t.Fatalf("keys %q and %q: second claim acquired %v", a, b, cb.Acquired)
		}
		for k, fp := range map[string]string{a: "A", b: "B"} {
			if a == b {
				fp = "A"
			}
			r, err := s.Get(ctx, k)
			if err != nil || r.Key != k || r.Fingerprint != fp {
				t.Fatalf("Get(%q) = %+v, %v; want fingerprint %q", k, r, err, fp)
			}
		}
	})
}

func TestCorruptErrorMatches(t *testing.T) {
	t.Parallel()
	err := opErr("get", "k", corrupt("p", "r"))
	if !errors.Is(err, idemtype.ErrCorrupt) || errors.Is(err, idemtype.ErrNotFound) {
		t.Fatalf("%v does not match ErrCorrupt alone", err)
	}
	if got := err.Error(); got != `idempotency: filestore: get: corrupt record p: r` {
		t.Fatalf("Error() = %q", got)
	}
}
