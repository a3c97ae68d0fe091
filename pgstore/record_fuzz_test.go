package pgstore

import (
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/jackc/pgx/v5/pgtype"
)

// FuzzDecodeRow: whatever a row holds, decode returns the requested key's
// record with a valid status and token, or an error matching ErrCorrupt.
func FuzzDecodeRow(f *testing.F) {
	f.Add("k", []byte("k"), int16(2), int64(7), []byte("v"), true, int8(0), true, false)
	f.Add("k", []byte("other"), int16(1), int64(1), []byte(nil), true, int8(0), false, false)
	f.Add("nul\x00", []byte("nul"), int16(3), int64(-1), []byte{0xff}, false, int8(1), true, true)
	f.Add("", []byte(""), int16(0), int64(0), []byte{}, true, int8(-1), true, true)
	f.Fuzz(func(t *testing.T, key string, stored []byte, status int16, token int64, value []byte, leaseValid bool, leaseInf int8, expValid, createdNull bool) {
		now := time.Unix(1_700_000_000, 0)
		ts := func(valid bool, inf int8) pgtype.Timestamptz {
			return pgtype.Timestamptz{Time: now, Valid: valid, InfinityModifier: pgtype.InfinityModifier(inf % 2)}
		}
		r := row{key: stored, status: status, token: token, value: value,
			leaseUntil: ts(leaseValid, leaseInf), expiresAt: ts(expValid, 0), createdAt: ts(!createdNull, 0), updatedAt: ts(true, 0)}
		rec, err := r.decode("get", key)
		if err != nil {
			if !errors.Is(err, idemtype.ErrCorrupt) {
				t.Fatalf("decode error %v does not match ErrCorrupt", err)
			}
			return
		}
		if rec.Key != key || string(stored) != key {
			t.Fatalf("decode of a row for %q returned a record for %q", stored, key)
		}
		if rec.Status < idemtype.StatusInProgress || rec.Status > idemtype.StatusFailed || rec.Token == 0 {
			t.Fatalf("decode accepted status %d, token %d", rec.Status, rec.Token)
		}
		if rec.LeaseUntil.IsZero() || rec.CreatedAt.IsZero() || rec.UpdatedAt.IsZero() {
			t.Fatalf("decode accepted a missing time: %+v", rec)
		}
		if expValid != !rec.ExpiresAt.IsZero() {
			t.Fatalf("expires_at valid %v, decoded %v", expValid, rec.ExpiresAt)
		}
	})
}

// FuzzParsePayload: only the hex digest the statements send is accepted,
// and it is returned as is.
func FuzzParsePayload(f *testing.F) {
	f.Add(hex.EncodeToString(hashKey("k")))
	f.Add("")
	f.Add("ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, p string) {
		id, ok := parsePayload(p)
		if !ok {
			return
		}
		b, err := hex.DecodeString(id)
		if err != nil || len(b) != 32 || id != p || hex.EncodeToString(b) != p {
			t.Fatalf("parsePayload accepted %q", p)
		}
	})
}
