package faults

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Effect is one side effect counted outside the processes (a line of an
// append-only file, a row of a ledger table): the call whose fn performed
// it.
type Effect struct {
	Key, ID string
	Token   uint64 // the fencing token of the execution
}

// CheckOptions tune Check.
type CheckOptions struct {
	// ExactlyOnce: effects commit together with their record (DoTx), so a
	// key has exactly one effect when it has an outcome and none when it
	// has not, whatever died on the way.
	ExactlyOnce bool
	// AtMostOnce: no key may have more than one effect, even when an
	// execution died or stalled (the guard's NoTakeover).
	AtMostOnce bool
	// Timeout bounds the linearizability check of one key; a key that
	// cannot be decided in time is reported as a violation. Default 10s.
	Timeout time.Duration
	// VisualizeDir, if set, receives porcupine's HTML visualization of
	// each key whose history is not linearizable (key-<key>.html).
	VisualizeDir string
}

// Result is the verdict on one history.
type Result struct {
	Calls     int // calls in the history, final reads excluded
	Completed int // keys with a recorded outcome at the end
	Effects   int // effects counted
	// Violations explain every way the history breaks the guarantees; a
	// correct store under any fault has none.
	Violations []string
}

// keyModel is the sequential specification of one key: it starts with no
// outcome and gets at most one, which every later call is given back.
// The state is the recorded value ("" while none is). A call that died or
// could not record is ambiguous: it may have recorded its own value or
// nothing, so the model is nondeterministic.
var keyModel = porcupine.NondeterministicModel{
	Init: func() []any { return []any{""} },
	Step: func(state, input, output any) []any {
		s, op := state.(string), output.(Op)
		switch op.Kind {
		case KindValue:
			// Either a replay of the recorded value, or this call's own
			// execution recording it first.
			if s == op.Value || (s == "" && op.Value == op.ID) {
				return []any{op.Value}
			}
		case KindAmbiguous:
			if s == "" {
				outcome := op.ID
				if op.Value != "" {
					outcome = op.Value
				}
				return []any{"", outcome}
			}
			return []any{s}
		case KindFailed:
			if s == op.Value {
				return []any{s}
			}
		case KindEmpty:
			if s == "" {
				return []any{s}
			}
		case KindNone:
			return []any{s}
		case KindFinal:
			if s == op.Value {
				return []any{s}
			}
		}
		return nil // KindBad, or a step the key cannot take
	},
	DescribeOperation: func(_, output any) string { return output.(Op).String() },
}

// Check checks a history and the effects counted while it ran. Every key
// must have exactly one KindFinal op (its record read at the end).
func Check(ops []Op, effects []Effect, opts CheckOptions) Result {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	var r Result
	byKey := map[string][]Op{}
	byID := map[string]Op{}
	for _, op := range ops {
		byKey[op.Key] = append(byKey[op.Key], op)
		if op.Kind != KindFinal {
			r.Calls++
			byID[op.ID] = op
		}
	}
	effectsOf := map[string][]Effect{}
	for _, e := range effects {
		effectsOf[e.Key] = append(effectsOf[e.Key], e)
		if _, ok := byKey[e.Key]; !ok {
			byKey[e.Key] = nil // an effect on a key no call used
		}
	}
	r.Effects = len(effects)
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	model := keyModel.ToModel()
	for _, key := range keys {
		kops := byKey[key]
		v := func(format string, args ...any) {
			r.Violations = append(r.Violations, fmt.Sprintf("key %s: ", key)+fmt.Sprintf(format, args...)+"\n"+excerpt(kops, effectsOf[key]))
		}
		final, finalToken, finals := "", uint64(0), 0
		hist := make([]porcupine.Operation, 0, len(kops))
		for i, op := range kops {
			if op.Kind == KindFinal {
				final, finalToken = op.Value, op.Token
				finals++
			}
			hist = append(hist, porcupine.Operation{ClientId: i, Input: op, Call: op.Call, Output: op, Return: op.Return})
		}
		if finals != 1 {
			v("%d final reads of the record; want 1", finals)
			continue
		}
		if final != "" {
			r.Completed++
		}
		switch res, info := porcupine.CheckOperationsVerbose(model, hist, opts.Timeout); res {
		case porcupine.Ok:
		case porcupine.Illegal:
			msg := "the history is not linearizable: no order of these calls gives every caller what it got from one outcome per key"
			if opts.VisualizeDir != "" {
				path := filepath.Join(opts.VisualizeDir, "key-"+fileName(key)+".html")
				if err := porcupine.VisualizePath(model, info, path); err == nil {
					msg += " (see " + path + ")"
				}
			}
			v("%s", msg)
		default:
			v("linearizability undecided within %v", opts.Timeout)
		}
		checkEffects(key, kops, effectsOf[key], byID, final, finalToken, opts, v)
	}
	return r
}

// checkEffects holds the effects of one key against its calls: each
// effect belongs to a call of the key that ran once and either recorded
// its value or may have (it died, or could not record); the recorded
// value has its effect; a call that returned its own value had one; and
// the recorded value is the latest execution's (fencing: no execution
// that was taken over may write over the one that took over).
func checkEffects(key string, kops []Op, effects []Effect, byID map[string]Op, final string, finalToken uint64, opts CheckOptions, v func(string, ...any)) {
	seen := map[string]int{}
	var latest Effect
	for _, e := range effects {
		if e.Token > latest.Token {
			latest = e
		}
	}
	failure := strings.HasPrefix(final, FailureOutcome(""))
	if final != "" && !failure && latest.ID != "" && (latest.ID != final || latest.Token != finalToken) {
		v("the recorded value %s (record token %d) is not the latest execution's, %s (token %d): a stale execution's write was accepted", final, finalToken, latest.ID, latest.Token)
	}
	for _, e := range effects {
		seen[e.ID]++
		op, ok := byID[e.ID]
		switch {
		case !ok || op.Key != key:
			v("effect of %s, which is no call of this key", e.ID)
		case seen[e.ID] == 2:
			v("call %s performed its effect twice", e.ID)
		case op.Kind == KindAmbiguous, op.Kind == KindValue && op.Value == op.ID:
		default:
			v("call %s performed its effect but ended %s%s: an execution the guard does not account for", e.ID, op.Kind, suffix(op.Value))
		}
	}
	if final != "" && !failure && seen[final] == 0 {
		v("the recorded value %s has no effect", final)
	}
	for _, op := range kops {
		if op.Kind == KindValue && op.Value == op.ID && seen[op.ID] == 0 {
			v("call %s returned its own value but no effect of it was counted", op.ID)
		}
	}
	if opts.AtMostOnce && len(effects) > 1 {
		v("%d effects: at most one allowed without takeover", len(effects))
	}
	if opts.ExactlyOnce {
		want := 0
		if final != "" && !failure {
			want = 1
		}
		if len(effects) != want {
			v("%d effects for %d outcome: effects and records must commit together", len(effects), want)
		}
	}
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

// excerpt lists a key's calls and effects for a violation report.
func excerpt(ops []Op, effects []Effect) string {
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "\t%s\n", op)
	}
	for _, e := range effects {
		fmt.Fprintf(&b, "\teffect %s token=%d\n", e.ID, e.Token)
	}
	return strings.TrimRight(b.String(), "\n")
}

// fileName keeps letters, digits, '-' and '_' of a key, for a file name.
func fileName(key string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, key)
}
