package pgstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A refused statement is quoted in ErrTxOwned's message whole up to 64
// bytes, and past that cut to its first 61 and "...": the message reaches
// logs, the statement may be long.
func TestRefusedStatementQuoted(t *testing.T) {
	t.Parallel()
	commit := func(n int) string { return "COMMIT; -- " + strings.Repeat("x", n-len("COMMIT; -- ")) }
	for _, tc := range []struct {
		name, sql, quoted string
	}{
		{"Short", "COMMIT", "COMMIT"},
		{"63Bytes", commit(63), commit(63)},
		{"64Bytes", commit(64), commit(64)},
		{"65Bytes", commit(65), commit(65)[:61] + "..."},
		{"Long", commit(4096), commit(61) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := refuseEnd(tc.sql)
			want := fmt.Sprintf("%v: refused, not sent: %q", ErrTxOwned, tc.quoted)
			if !errors.Is(err, ErrTxOwned) || err.Error() != want {
				t.Fatalf("refuseEnd(%d bytes) = %v; want %s", len(tc.sql), err, want)
			}
		})
	}
}
