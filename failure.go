package idempotency

import (
	"encoding/json"
	"errors"
	"reflect"
)

// A remembered failure is stored as data, never as code: the message, the
// messages of the known sentinels the error matched, and the JSON of the
// errors of known types it wrapped. Replaying it cannot execute anything
// but those types' own decoding, whoever wrote the store.
type storedFailure struct {
	Message string        `json:"message"`
	Known   []string      `json:"known,omitempty"`
	Typed   []storedError `json:"typed,omitempty"`
}

type storedError struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func encodeFailure(err error, cfg *Config) []byte {
	f := storedFailure{Message: err.Error()}
	for _, k := range cfg.KnownErrors {
		if errors.Is(err, k) {
			f.Known = append(f.Known, k.Error())
		}
	}
	for _, proto := range cfg.KnownErrorTypes {
		t := reflect.TypeOf(proto)
		target := reflect.New(t)
		if !errors.As(err, target.Interface()) {
			continue
		}
		if v := target.Elem(); v.Kind() == reflect.Pointer && v.IsNil() {
			continue // a nil pointer has no data; it would replay as a zero value
		}
		if data, ok := marshalError(target.Elem().Interface()); ok {
			f.Typed = append(f.Typed, storedError{Type: typeName(t), Data: data})
		}
	}
	b, jerr := json.Marshal(f)
	if jerr != nil { // cannot happen: strings and valid JSON only
		b, _ = json.Marshal(storedFailure{Message: f.Message})
	}
	return b
}

func decodeFailure(key string, data []byte, cfg *Config) error {
	var f storedFailure
	if err := json.Unmarshal(data, &f); err != nil {
		return &Error{Kind: ErrCorrupt, Key: key, Err: err}
	}
	e := &FailedError{Key: key, Message: f.Message}
	for _, name := range f.Known {
		for _, k := range cfg.KnownErrors {
			if k.Error() == name {
				e.known = append(e.known, k)
			}
		}
	}
	for _, se := range f.Typed {
		for _, proto := range cfg.KnownErrorTypes {
			t := reflect.TypeOf(proto)
			if typeName(t) != se.Type {
				continue
			}
			if v, ok := decodeTyped(t, se.Data); ok {
				e.typed = append(e.typed, v)
			}
			break
		}
	}
	return e
}

// marshalError encodes a known error's data. fn has run by now, so a
// MarshalJSON that fails or panics must cost the data only, never the
// settling of the claim.
func marshalError(v any) (data []byte, ok bool) {
	defer func() {
		if recover() != nil {
			data, ok = nil, false
		}
	}()
	data, err := json.Marshal(v)
	return data, err == nil
}

// typeName names a type with its full package path, so that two packages'
// types of one name stay apart: "*example.com/pay/errs.Declined".
func typeName(t reflect.Type) string {
	stars := ""
	for t.Name() == "" && t.Kind() == reflect.Pointer {
		stars += "*"
		t = t.Elem()
	}
	if t.PkgPath() == "" {
		return stars + t.String()
	}
	return stars + t.PkgPath() + "." + t.Name()
}

// decodeTyped decodes an error of type t; a pointer type gets a new value
// to point to. Data that no longer fits the type (it changed since) is
// dropped: the message still stands.
func decodeTyped(t reflect.Type, data []byte) (error, bool) {
	p := reflect.New(t)
	if t.Kind() == reflect.Pointer {
		p.Elem().Set(reflect.New(t.Elem()))
		if json.Unmarshal(data, p.Elem().Interface()) != nil {
			return nil, false
		}
	} else if json.Unmarshal(data, p.Interface()) != nil {
		return nil, false
	}
	err, ok := p.Elem().Interface().(error)
	return err, ok && err != nil
}
