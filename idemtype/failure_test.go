package idemtype_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency/idemtype"
)

func TestErrorsMatch(t *testing.T) {
	t.Parallel()
	cause := errors.New("disk on fire")
	for _, c := range []struct {
		name    string
		err     error
		match   []error
		nomatch []error
		msg     string
	}{
		{"Full", idemtype.ErrFull, []error{idemtype.ErrFull, idemtype.ErrStore}, []error{idemtype.ErrCorrupt, idemtype.ErrNotFound}, "idempotency: store full"},
		{"OpError", &idemtype.OpError{Store: "filestore", Op: "complete", Key: "order-42", Err: cause},
			[]error{cause}, []error{idemtype.ErrStore, idemtype.ErrCorrupt}, `idempotency: filestore: complete: disk on fire`},
		{"OpErrorFull", &idemtype.OpError{Store: "memstore", Op: "claim", Key: "k", Err: fmt.Errorf("%w: 10 records", idemtype.ErrFull)},
			[]error{idemtype.ErrFull, idemtype.ErrStore}, []error{idemtype.ErrCorrupt}, `idempotency: memstore: claim: idempotency: store full: 10 records`},
		{"OpErrorNoKey", &idemtype.OpError{Store: "filestore", Op: "sweep", Err: fs.ErrPermission},
			[]error{fs.ErrPermission}, nil, `idempotency: filestore: sweep: permission denied`},
		{"Corrupt", &idemtype.CorruptError{Store: "filestore", Op: "get", Key: "k", Path: "/d/r", Reason: "torn"},
			[]error{idemtype.ErrCorrupt}, []error{idemtype.ErrNotFound, idemtype.ErrStore}, `idempotency: filestore: get: corrupt record /d/r: torn`},
		{"CorruptNoKeyNoPath", &idemtype.CorruptError{Store: "pgstore", Op: "list", Reason: "bad status 9"},
			[]error{idemtype.ErrCorrupt}, nil, `idempotency: pgstore: list: corrupt record: bad status 9`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, m := range c.match {
				if !errors.Is(c.err, m) {
					t.Errorf("%v does not match %v", c.err, m)
				}
			}
			for _, m := range c.nomatch {
				if errors.Is(c.err, m) {
					t.Errorf("%v matches %v", c.err, m)
				}
			}
			if got := c.err.Error(); got != c.msg {
				t.Errorf("message %q, want %q", got, c.msg)
			}
		})
	}
}

func TestShortKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, key, want string
	}{
		{"Short", "order-42", `"order-42"`},
		{"Empty", "", `""`},
		{"Controls", "a\x00b\nc\u202e\u0085", `"a\x00b\nc\u202e\u0085"`},
		{"InvalidUTF8", "\xff\xfe", `"\xff\xfe"`},
		{"AtLimit", strings.Repeat("k", 64), `"` + strings.Repeat("k", 64) + `"`},
		{"Long", strings.Repeat("k", 4096), `"` + strings.Repeat("k", 48) + `"... (4096 bytes)`},
		// é is two bytes: the cut backs up to its start rather than split it.
		{"CutOnRune", strings.Repeat("k", 47) + "é" + strings.Repeat("k", 40), `"` + strings.Repeat("k", 47) + `"... (89 bytes)`},
		// No rune starts in the first 49 bytes: the cut stops at 0 rather than
		// read before the key.
		{"NoRuneStart", strings.Repeat("\x80", 100), `""... (100 bytes)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := idemtype.ShortKey(c.key); got != c.want {
				t.Fatalf("ShortKey = %s, want %s", got, c.want)
			}
		})
	}
}
