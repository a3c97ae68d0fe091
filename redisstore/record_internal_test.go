package redisstore

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// TestDecodeRecordNamesTheField: a record whose time field does not hold a
// count of milliseconds is refused as corrupt, and the error names that
// field and its value, for whoever repairs the record.
//
// Not parallel, as TestDecodeClaim: it runs before the tests that start
// servers.
func TestDecodeRecordNamesTheField(t *testing.T) {
	good := []string{"k", "f", "2", "7", "v", "10", "20", "30", "40"}
	if _, err := decodeRecord("k", good); err != nil {
		t.Fatalf("a good record: %v", err)
	}
	for i := 5; i < len(fields); i++ {
		for _, bad := range []string{"-1", "x"} {
			str := append([]string(nil), good...)
			str[i] = bad
			_, err := decodeRecord("k", str)
			var ce *idemtype.CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, idemtype.ErrCorrupt) {
				t.Fatalf("field %s = %q: %v, want a CorruptError", fields[i], bad, err)
			}
			if want := "field " + fields[i] + " \"" + bad + "\""; !strings.Contains(ce.Reason, want) {
				t.Fatalf("field %s = %q: reason %q, want it to say %s", fields[i], bad, ce.Reason, want)
			}
		}
	}
}

// TestMillis: a duration goes to the scripts in whole milliseconds,
// rounded up, so that a lease or TTL is never shorter than asked; the
// longest durations do not overflow.
func TestMillis(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Nanosecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + 1, 2},
		{1500 * time.Microsecond, 2},
		{time.Second, 1000},
		{math.MaxInt64, math.MaxInt64/int64(time.Millisecond) + 1},
	} {
		if got := millis(tc.d); got != tc.want {
			t.Errorf("millis(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
