package idemhttp

import (
	"strconv"
	"strings"

	"github.com/idempotency-go/idempotency"
)

// HeaderKey is the request header that carries the idempotency key.
const HeaderKey = "Idempotency-Key"

// HeaderReplayed is set to "true" on replayed responses.
const HeaderReplayed = "Idempotent-Replayed"

// KeyError reports a malformed Idempotency-Key. It matches
// idempotency.ErrInvalidKey.
type KeyError struct {
	Reason string // what is wrong, for the client
}

func (e *KeyError) Error() string {
	return "idempotency: idemhttp: invalid Idempotency-Key: " + e.Reason
}

// Is reports whether target is idempotency.ErrInvalidKey.
func (e *KeyError) Is(target error) bool { return target == idempotency.ErrInvalidKey }

func keyError(reason string) error { return &KeyError{Reason: reason} }

// ParseKey parses an Idempotency-Key field value: a Structured Field Item
// (RFC 8941) whose value is a String, such as "8e03978e-40d5". Parameters
// after the string are allowed and ignored. For clients that send the key
// unquoted, a bare value of token characters (RFC 9110 tchar, ":" and "/")
// is accepted too, even where Structured Fields would read it as a number.
// The key must not be empty; every byte is printable ASCII. Errors are
// *KeyError.
func ParseKey(field string) (string, error) {
	p := sfParser{s: strings.TrimLeft(field, " \t")}
	var key string
	switch {
	case p.empty():
		return "", keyError("empty field")
	case p.peek() == '"':
		s, err := p.string()
		if err != nil {
			return "", err
		}
		key = s
	default:
		key = p.bare()
		if key == "" {
			return "", keyError("want a quoted string")
		}
	}
	if err := p.parameters(); err != nil {
		return "", err
	}
	p.s = strings.TrimRight(p.s, " \t")
	if !p.empty() {
		if p.peek() == ',' {
			return "", keyError("more than one key")
		}
		return "", keyError("unexpected characters after the key")
	}
	if key == "" {
		return "", keyError("empty key")
	}
	return key, nil
}

// parseKey parses the header's field lines and checks the key's length.
func parseKey(lines []string, maxLen int) (string, error) {
	if len(lines) > 1 {
		return "", keyError("more than one key")
	}
	key, err := ParseKey(lines[0])
	if err != nil {
		return "", err
	}
	if len(key) > maxLen {
		return "", &KeyError{Reason: "longer than " + strconv.Itoa(maxLen) + " bytes"}
	}
	return key, nil
}

// sfParser reads the parts of RFC 8941 an Item needs.
type sfParser struct{ s string }

func (p *sfParser) empty() bool { return p.s == "" }
func (p *sfParser) peek() byte  { return p.s[0] }

// string reads an sf-string: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE.
func (p *sfParser) string() (string, error) {
	// Without escapes the value is a substring of the field: no copy.
	for i := 1; i < len(p.s); i++ {
		switch c := p.s[i]; {
		case c == '"':
			v := p.s[1:i]
			p.s = p.s[i+1:]
			return v, nil
		case c == '\\':
			return p.escaped()
		case c < 0x20 || c > 0x7e:
			return "", keyError("characters other than printable ASCII")
		}
	}
	return "", keyError("unterminated string")
}

// escaped reads an sf-string that has escapes.
func (p *sfParser) escaped() (string, error) {
	var b strings.Builder
	for i := 1; i < len(p.s); i++ {
		c := p.s[i]
		switch {
		case c == '\\':
			i++
			if i == len(p.s) || (p.s[i] != '"' && p.s[i] != '\\') {
				return "", keyError(`a backslash may only escape " or \`)
			}
			b.WriteByte(p.s[i])
		case c == '"':
			p.s = p.s[i+1:]
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", keyError("characters other than printable ASCII")
		default:
			b.WriteByte(c)
		}
	}
	return "", keyError("unterminated string")
}

// bare reads 1*( tchar / ":" / "/" ): an sf-token, or the unquoted keys
// (UUIDs, numbers) that clients send.
func (p *sfParser) bare() string {
	i := 0
	for i < len(p.s) && (isTchar(p.s[i]) || p.s[i] == ':' || p.s[i] == '/') {
		i++
	}
	v := p.s[:i]
	p.s = p.s[i:]
	return v
}

// parameters reads *( ";" *SP key [ "=" bare-item ] ) and ignores them.
func (p *sfParser) parameters() error {
	for !p.empty() && p.peek() == ';' {
		p.s = strings.TrimLeft(p.s[1:], " ")
		if p.empty() || !(isLcalpha(p.peek()) || p.peek() == '*') {
			return keyError("malformed parameter")
		}
		i := 1
		for i < len(p.s) && (isLcalpha(p.s[i]) || isDigit(p.s[i]) || strings.IndexByte("_-.*", p.s[i]) >= 0) {
			i++
		}
		p.s = p.s[i:]
		if p.empty() || p.peek() != '=' {
			continue
		}
		p.s = p.s[1:]
		if err := p.bareItem(); err != nil {
			return err
		}
	}
	return nil
}

// bareItem skips a parameter value: a string, token, number, byte
// sequence or boolean.
func (p *sfParser) bareItem() error {
	if p.empty() {
		return keyError("malformed parameter")
	}
	c := p.peek()
	switch {
	case c == '"':
		_, err := p.string()
		return err
	case c == '?':
		if len(p.s) < 2 || (p.s[1] != '0' && p.s[1] != '1') {
			return keyError("malformed parameter")
		}
		p.s = p.s[2:]
		return nil
	case c == ':':
		end := strings.IndexByte(p.s[1:], ':')
		if end < 0 {
			return keyError("malformed parameter")
		}
		for _, b := range []byte(p.s[1 : 1+end]) {
			if !isAlpha(b) && !isDigit(b) && b != '+' && b != '/' && b != '=' {
				return keyError("malformed parameter")
			}
		}
		p.s = p.s[2+end:]
		return nil
	case c == '-' || isDigit(c):
		i := 0
		if c == '-' {
			i++
		}
		start, dot := i, false
		for i < len(p.s) && (isDigit(p.s[i]) || (p.s[i] == '.' && !dot)) {
			dot = dot || p.s[i] == '.'
			i++
		}
		if i == start || p.s[i-1] == '.' {
			return keyError("malformed parameter")
		}
		p.s = p.s[i:]
		return nil
	case isAlpha(c) || c == '*':
		p.bare()
		return nil
	}
	return keyError("malformed parameter")
}

func isDigit(c byte) bool   { return '0' <= c && c <= '9' }
func isLcalpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlpha(c byte) bool   { return isLcalpha(c) || ('A' <= c && c <= 'Z') }

// isTchar reports an RFC 9110 token character.
func isTchar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
