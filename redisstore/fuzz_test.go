package redisstore

import (
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/idempotency-go/idempotency/idemtype"
)

// FuzzDecodeRecord feeds arbitrary field values (and missing fields) to the
// record decoder: it must never panic, must report every failure as
// ErrCorrupt, and must only ever return a record of the key asked for with
// a valid status and a non-zero token.
func FuzzDecodeRecord(f *testing.F) {
	f.Add("k", "k", "fp", "2", "17", "value", "100", "0", "50", "60", uint16(0))
	f.Add("k", "k", "", "1", "1795714651078200", "", "1795714651078", "1795714711078", "1", "1", uint16(0))
	f.Add("k", "other", "", "1", "5", "", "1", "0", "1", "1", uint16(0))
	f.Add("k", "k", "", "9", "5", "", "1", "0", "1", "1", uint16(0))
	f.Add("k", "k", "", "1", "0", "", "1", "0", "1", "1", uint16(0))
	f.Add("k", "k", "", "1", "-1", "", "1e3", "0", "1", "1", uint16(0))
	f.Add("k", "k", "", "1", "5", "", "1", "-5", "1", "1", uint16(0))
	f.Add("k", "k", "", "1", "5", "", "1", "0", "1", "1", uint16(1<<4))
	f.Add("\x00\xff", "\x00\xff", "", "3", "18446744073709551615", "\x00", "9223372036854775807", "0", "0", "0", uint16(0))
	f.Add("k", "k", "", "1", "18446744073709551616", "", "1", "0", "1", "1", uint16(0))
	f.Fuzz(func(t *testing.T, key, k, fp, s, tok, v, l, e, c, u string, missing uint16) {
		vals := []any{k, fp, s, tok, v, l, e, c, u}
		for i := range vals {
			if missing&(1<<i) != 0 {
				vals[i] = nil
			}
		}
		rec, err := decodeHash(key, vals)
		if err != nil {
			if !errors.Is(err, idemtype.ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if rec.Key != key || k != key {
			t.Fatalf("decoded a record of %q for key %q", k, key)
		}
		if rec.Status < idemtype.StatusInProgress || rec.Status > idemtype.StatusFailed || rec.Token == 0 {
			t.Fatalf("decoded invalid record %+v", rec)
		}
		if string(rec.Value) != v {
			t.Fatalf("value %q, stored %q", rec.Value, v)
		}
		// The claim script sends the same fields of a record it has
		// checked to be key's, its numbers in one string; it must agree.
		cl, err := decodeClaim(idemtype.ClaimRequest{Key: key}, []string{"e", fp, v, s + " " + tok + " " + l + " " + e + " " + c + " " + u})
		if err != nil || cl.Acquired || !reflect.DeepEqual(cl.Record, rec) {
			t.Fatalf("claim reply decoded as %+v, %v; record %+v", cl, err, rec)
		}
	})
}

// FuzzDecodeClaim feeds arbitrary claim replies to the claim decoder: it
// must never panic, and anything but an acquisition with a positive token
// and sane times, or a valid record, must be ErrCorrupt.
func FuzzDecodeClaim(f *testing.F) {
	f.Add("a", "17", "1", "1", "5", "0", uint8(6))
	f.Add("t", "18", "0", "1", "5", "9", uint8(6))
	f.Add("t", "18", "-1", "1", "5", "9", uint8(6))
	f.Add("a", "0", "1", "1", "5", "0", uint8(6))
	f.Add("a", "17", "1", "1", "5", "0", uint8(5))
	f.Add("a", "17", "1", "1", "5x", "0", uint8(6))
	f.Add("c", "", "", "", "", "", uint8(1))
	f.Add("e", "", "", "", "", "", uint8(1))
	f.Add("z", "1", "1", "1", "1", "1", uint8(6))
	f.Add("e", "fp", "v", "2 17 1 0 1 1", "", "", uint8(4))
	f.Add("x", "fp", "", "1 17 1 0 1 1", "", "", uint8(4))
	f.Add("e", "fp", "v", "2 17 1 0 1", "", "", uint8(4))
	f.Fuzz(func(t *testing.T, code, tok, c, u, l, e string, n uint8) {
		res := []string{code, tok, c, u, l, e}[:min(int(n), 6)]
		cl, err := decodeClaim(idemtype.ClaimRequest{Key: "k"}, res)
		if err != nil {
			if !errors.Is(err, idemtype.ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !cl.Acquired {
			if (code != "e" && code != "x") || cl.Abandoned != (code == "x") || cl.Record.Token == 0 || cl.Record.Key != "k" {
				t.Fatalf("decoded %+v from %q", cl, res)
			}
			return
		}
		created, _ := strconv.ParseInt(c, 10, 64)
		lease, _ := strconv.ParseInt(l, 10, 64)
		if !cl.Acquired || cl.Record.Token == 0 || cl.Record.Key != "k" || cl.TookOver != (code == "t") ||
			cl.Record.CreatedAt.UnixMilli() != created || cl.Record.LeaseUntil.UnixMilli() != lease || created < 0 || lease < 0 {
			t.Fatalf("decoded %+v from %q", cl, res)
		}
	})
}
