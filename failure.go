package idempotency

import (
	"encoding/json"
	"errors"
)

// A remembered failure is stored as data, never as code: the message and
// the messages of the known sentinels the error matched. Replaying it
// cannot execute anything, whoever wrote the store.
type storedFailure struct {
	Message string   `json:"message"`
	Known   []string `json:"known,omitempty"`
}

func encodeFailure(err error, known []error) []byte {
	f := storedFailure{Message: err.Error()}
	for _, k := range known {
		if errors.Is(err, k) {
			f.Known = append(f.Known, k.Error())
		}
	}
	b, _ := json.Marshal(f) // strings only: cannot fail
	return b
}

func decodeFailure(key string, data []byte, known []error) error {
	var f storedFailure
	if err := json.Unmarshal(data, &f); err != nil {
		return &Error{Kind: ErrCorrupt, Key: key, Err: err}
	}
	e := &FailedError{Key: key, Message: f.Message}
	for _, name := range f.Known {
		for _, k := range known {
			if k.Error() == name {
				e.known = append(e.known, k)
			}
		}
	}
	return e
}
