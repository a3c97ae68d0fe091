package faults

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
	"time"
)

// Kind is how a call ended, as far as its key's outcome is concerned.
type Kind string

// The kinds of call endings.
const (
	// KindValue: Do returned a value and no error. The value is the call's
	// own ID when its fn ran and the outcome was recorded, else a replay
	// of the value recorded by another call.
	KindValue Kind = "value"
	// KindAmbiguous: fn may have run and its outcome may or may not have
	// been recorded: the process died during the call, or Do returned
	// ErrNotRecorded. The outcome it may have recorded is Value, or its
	// own ID when Value is empty.
	KindAmbiguous Kind = "ambiguous"
	// KindFailed: Do returned a remembered failure (OnFailure: Remember),
	// recorded by another call; Value is FailureOutcome of that call.
	KindFailed Kind = "failed"
	// KindEmpty: the key had no outcome when the call looked: it claimed
	// the key and fn failed, panicked or was cancelled before its effect,
	// or the key was in progress (ErrInProgress) or abandoned.
	KindEmpty Kind = "empty"
	// KindNone: nothing about the key can be concluded: the store failed
	// before fn ran (ErrStore, fail closed).
	KindNone Kind = "none"
	// KindBad: an ending that must never happen, whatever the faults: a
	// corrupt record, a stored result that cannot be read back, a key
	// reported reused. It is always a violation.
	KindBad Kind = "bad"
	// KindFinal: the key's record, read after every process ended. Value
	// is the recorded value, empty when the key has no outcome.
	KindFinal Kind = "final"
)

// FailureOutcome is the outcome a failure of call id records under
// OnFailure: Remember, as the model knows it.
func FailureOutcome(id string) string { return "fail:" + id }

// Op is one call in a history.
type Op struct {
	Key string `json:"key"`
	// ID names the call uniquely in a cell; it is also the value the
	// call's fn returns and records.
	ID string `json:"id"`
	// Call and Return are wall-clock Unix nanoseconds, comparable across
	// the processes of one host. A call that never returned has Return
	// math.MaxInt64.
	Call   int64  `json:"call"`
	Return int64  `json:"return"`
	Kind   Kind   `json:"kind"`
	Value  string `json:"value,omitempty"`
	// Err is the text of the error Do returned, for reports.
	Err string `json:"err,omitempty"`
	// Fault is the fault the caller injected into this call itself
	// ("cancel", "panic"), if any.
	Fault string `json:"fault,omitempty"`
	// Token is the fencing token of the call's execution, if fn ran; of
	// a KindFinal op, the token of the record.
	Token uint64 `json:"token,omitempty"`
}

func (o Op) String() string {
	ret := "never"
	if o.Return != math.MaxInt64 {
		ret = time.Unix(0, o.Return).UTC().Format("15:04:05.000000")
	}
	s := fmt.Sprintf("%s %s [%s, %s] %s", o.Key, o.ID, time.Unix(0, o.Call).UTC().Format("15:04:05.000000"), ret, o.Kind)
	if o.Value != "" {
		s += " " + o.Value
	}
	if o.Token != 0 {
		s += fmt.Sprintf(" token=%d", o.Token)
	}
	if o.Fault != "" {
		s += " fault=" + o.Fault
	}
	if o.Err != "" {
		s += " err=" + o.Err
	}
	return s
}

// line is one line of a history file: a call's start, or its end.
type line struct {
	Start bool `json:"start,omitempty"`
	Op
}

// Recorder appends a process's calls to its history file, one JSON line
// as each call starts and one as it ends. Each line is one write to a
// file opened for appending, so a process killed at any moment leaves
// whole lines: the start of a call that never ended reads as a call that
// died.
type Recorder struct {
	mu sync.Mutex
	f  *os.File
}

// NewRecorder opens (creates) the history file at path for appending.
func NewRecorder(path string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &Recorder{f: f}, nil
}

// Start records that call id on key begins now and returns the time.
func (r *Recorder) Start(key, id string) (int64, error) {
	now := time.Now().UnixNano()
	return now, r.write(line{Start: true, Op: Op{Key: key, ID: id, Call: now}})
}

// End records how a call ended.
func (r *Recorder) End(op Op) error {
	op.Return = time.Now().UnixNano()
	return r.write(line{Op: op})
}

func (r *Recorder) write(l line) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err = r.f.Write(append(b, '\n'))
	return err
}

// Close closes the file.
func (r *Recorder) Close() error { return r.f.Close() }

// ReadHistory reads history files into one list of calls, ordered by
// start. A call that started but never ended is KindAmbiguous with Return
// math.MaxInt64.
func ReadHistory(paths ...string) ([]Op, error) {
	byID := map[string]*Op{}
	var order []string
	for _, p := range paths {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue // a process killed before its first call
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				f.Close()
				return nil, fmt.Errorf("faults: %s: %v in %q", p, err, sc.Text())
			}
			if l.Start {
				if byID[l.ID] != nil {
					f.Close()
					return nil, fmt.Errorf("faults: %s: call %s started twice", p, l.ID)
				}
				op := l.Op
				op.Kind, op.Return = KindAmbiguous, math.MaxInt64
				byID[l.ID] = &op
				order = append(order, l.ID)
				continue
			}
			op := byID[l.ID]
			if op == nil {
				f.Close()
				return nil, fmt.Errorf("faults: %s: call %s ended without starting", p, l.ID)
			}
			call := op.Call
			*op = l.Op
			op.Call = call
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	ops := make([]Op, 0, len(order))
	for _, id := range order {
		ops = append(ops, *byID[id])
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	return ops, nil
}
