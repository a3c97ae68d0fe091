package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// The claim script's reply is read whole or refused as corrupt: a claim
// ("a", "t": token and four times), or the record found ("e", "x": its
// fingerprint, value and the other fields in one string); any other shape,
// a token of 0 or a negative time is ErrCorrupt, never a claim.
//
// Not parallel: it runs before the tests that start servers, so that a
// mutation run (go test -failfast) stops at it within a second.
func TestDecodeClaim(t *testing.T) {
	req := idemtype.ClaimRequest{Key: "k", Fingerprint: "f"}
	ms := func(n int64) time.Time { return time.UnixMilli(n) }
	for _, tc := range []struct {
		name string
		res  []string
		want idemtype.Claim // zero: ErrCorrupt
	}{
		{"Acquired", []string{"a", "7", "1", "2", "3", "4"}, idemtype.Claim{Acquired: true, Record: idemtype.Record{
			Key: "k", Fingerprint: "f", Status: idemtype.StatusInProgress, Token: 7,
			CreatedAt: ms(1), UpdatedAt: ms(2), LeaseUntil: ms(3), ExpiresAt: ms(4)}}},
		{"TookOverNoExpiry", []string{"t", "8", "1", "2", "3", "0"}, idemtype.Claim{Acquired: true, TookOver: true, Record: idemtype.Record{
			Key: "k", Fingerprint: "f", Status: idemtype.StatusInProgress, Token: 8,
			CreatedAt: ms(1), UpdatedAt: ms(2), LeaseUntil: ms(3)}}},
		{"ExpiresAtOne", []string{"a", "7", "1", "2", "3", "1"}, idemtype.Claim{Acquired: true, Record: idemtype.Record{
			Key: "k", Fingerprint: "f", Status: idemtype.StatusInProgress, Token: 7,
			CreatedAt: ms(1), UpdatedAt: ms(2), LeaseUntil: ms(3), ExpiresAt: ms(1)}}},
		{"TimesZero", []string{"a", "1", "0", "0", "0", "0"}, idemtype.Claim{Acquired: true, Record: idemtype.Record{
			Key: "k", Fingerprint: "f", Status: idemtype.StatusInProgress, Token: 1,
			CreatedAt: ms(0), UpdatedAt: ms(0), LeaseUntil: ms(0)}}},
		{"Existing", []string{"e", "g", "val", "2 9 5 6 7 8"}, idemtype.Claim{Record: idemtype.Record{
			Key: "k", Fingerprint: "g", Status: idemtype.StatusCompleted, Token: 9, Value: []byte("val"),
			LeaseUntil: ms(5), ExpiresAt: ms(6), CreatedAt: ms(7), UpdatedAt: ms(8)}}},
		{"Abandoned", []string{"x", "g", "", "1 9 5 0 7 8"}, idemtype.Claim{Abandoned: true, Record: idemtype.Record{
			Key: "k", Fingerprint: "g", Status: idemtype.StatusInProgress, Token: 9,
			LeaseUntil: ms(5), CreatedAt: ms(7), UpdatedAt: ms(8)}}},
		{"Empty", nil, idemtype.Claim{}},
		{"UnknownCode", []string{"z", "7", "1", "2", "3", "4"}, idemtype.Claim{}},
		{"CorruptRecord", []string{"c"}, idemtype.Claim{}},
		{"AcquiredShort", []string{"a", "7", "1", "2", "3"}, idemtype.Claim{}},
		{"AcquiredLong", []string{"a", "7", "1", "2", "3", "4", "5"}, idemtype.Claim{}},
		{"TokenZero", []string{"a", "0", "1", "2", "3", "4"}, idemtype.Claim{}},
		{"TokenNotANumber", []string{"a", "x", "1", "2", "3", "4"}, idemtype.Claim{}},
		{"NegativeTime", []string{"a", "7", "1", "2", "-3", "4"}, idemtype.Claim{}},
		{"TimeNotANumber", []string{"a", "7", "1", "2", "3", "x"}, idemtype.Claim{}},
		{"ExistingShort", []string{"e", "g", "val"}, idemtype.Claim{}},
		{"ExistingLong", []string{"e", "g", "val", "2 9 5 6 7 8", "x"}, idemtype.Claim{}},
		{"ExistingBadStatus", []string{"e", "g", "val", "9 9 5 6 7 8"}, idemtype.Claim{}},
		{"ExistingFewFields", []string{"e", "g", "val", "2 9 5 6 7"}, idemtype.Claim{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := decodeClaim(req, tc.res)
			if tc.want.Record.Key == "" {
				if !errors.Is(err, idemtype.ErrCorrupt) {
					t.Fatalf("decodeClaim(%q) = %+v, %v; want ErrCorrupt", tc.res, c, err)
				}
				return
			}
			if err != nil || c.Acquired != tc.want.Acquired || c.TookOver != tc.want.TookOver || c.Abandoned != tc.want.Abandoned || !sameRecord(c.Record, tc.want.Record) {
				t.Fatalf("decodeClaim(%q) = %+v, %v; want %+v", tc.res, c, err, tc.want)
			}
		})
	}
}

func sameRecord(a, b idemtype.Record) bool {
	return a.Key == b.Key && a.Fingerprint == b.Fingerprint && a.Status == b.Status && a.Token == b.Token &&
		string(a.Value) == string(b.Value) && a.LeaseUntil.Equal(b.LeaseUntil) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}
