package idemhttp_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemhttp"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, field, key string // key "": an error
	}{
		{"quoted", `"abc-123"`, "abc-123"},
		{"surrounding space", "  \"abc\"\t ", "abc"},
		{"inner space", `"a b"`, "a b"},
		{"escapes", `"a\"b\\c"`, `a"b\c`},
		{"all printable", `"!#$%&'()*+,-./:;<=>?@[]^_{|}~"`, `!#$%&'()*+,-./:;<=>?@[]^_{|}~`},
		{"parameters", `"k";a=1;b="x;y";c=?1;d=:aGk=:;e=tok/en;f=-1.5;*g`, "k"},
		{"parameter with space", `"k"; a=1`, "k"},
		{"bare token", `abc:def/ghi`, "abc:def/ghi"},
		{"bare UUID", `8e03978e-40d5-43e8-bc93-6894a57f9324`, "8e03978e-40d5-43e8-bc93-6894a57f9324"},
		{"bare number", `12345`, "12345"},
		{"bare with parameter", `abc;v=1`, "abc"},
		{"empty field", ``, ""},
		{"only space", `   `, ""},
		{"empty string", `""`, ""},
		{"unterminated", `"abc`, ""},
		{"bad escape", `"a\nb"`, ""},
		{"trailing backslash", `"a\`, ""},
		{"control character", "\"a\tb\"", ""},
		{"non-ASCII", "\"\xc3\xa9\"", ""},
		{"DEL", "\"a\x7fb\"", ""},
		{"list", `"a", "b"`, ""},
		{"trailing garbage", `"a"b`, ""},
		{"bare with space", `a b`, ""},
		{"byte sequence", `:aGk=:`, ""},
		{"boolean", `?1`, ""},
		{"bad parameter key", `"k";A=1`, ""},
		{"empty parameter", `"k";`, ""},
		{"bad parameter value", `"k";a=`, ""},
		{"bad parameter number", `"k";a=1.`, ""},
		{"unterminated parameter", `"k";a="x`, ""},
		{"unterminated byte parameter", `"k";a=:aGk=`, ""},
		{"bad boolean parameter", `"k";a=?2`, ""},
		{"unterminated with escape", `"a\"b`, ""},
		{"parameter key of every kind of character", `"k";a_b=1;c-d.e*f9=2;z=3`, "k"},
		{"boolean parameter at the end", `"k";a=?1`, "k"},
		{"boolean parameter cut short", `"k";a=?`, ""},
		{"empty byte sequence parameter", `"k";a=::`, "k"},
		{"byte sequence parameter of every character", `"k";a=:az+AZ/09=:`, "k"},
		{"bad byte sequence parameter", `"k";a=:a#b:`, ""},
		{"escapes with space and tilde", `"a b~\"c"`, `a b~"c`},
		{"token parameter starting with *", `"k";a=*tok`, "k"},
		{"parameter value starting with !", `"k";a=!x`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key, err := idemhttp.ParseKey(tc.field)
			if tc.key == "" {
				var ke *idemhttp.KeyError
				if !errors.As(err, &ke) || !errors.Is(err, idempotency.ErrInvalidKey) || !strings.HasPrefix(err.Error(), "idempotency: idemhttp: ") {
					t.Fatalf("ParseKey(%q) = %q, %v; want a *KeyError matching ErrInvalidKey", tc.field, key, err)
				}
				return
			}
			if err != nil || key != tc.key {
				t.Fatalf("ParseKey(%q) = %q, %v; want %q", tc.field, key, err, tc.key)
			}
		})
	}
}

// quote encodes s as a Structured Field String.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{`"abc"`, `abc`, `"a\"b"`, `"k";a=1;b=?0`, `"a", "b"`, `""`, `:aGk=:`, `"k";a=-1.5`, "\"\xff\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		key, err := idemhttp.ParseKey(field)
		if err != nil {
			if !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Fatalf("error %v does not match ErrInvalidKey", err)
			}
			return
		}
		if key == "" {
			t.Fatalf("ParseKey(%q): empty key accepted", field)
		}
		for i := 0; i < len(key); i++ {
			if key[i] < 0x20 || key[i] > 0x7e {
				t.Fatalf("ParseKey(%q) = %q: byte %#x is not printable ASCII", field, key, key[i])
			}
		}
		// A key a client sends quoted comes back the same.
		again, err := idemhttp.ParseKey(quote(key))
		if err != nil || again != key {
			t.Fatalf("round trip of %q: %q, %v", key, again, err)
		}
	})
}
