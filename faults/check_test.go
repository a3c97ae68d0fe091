package faults

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// op builds a call on key "k" over [call, ret].
func op(id string, call, ret int64, kind Kind, value string) Op {
	return Op{Key: "k", ID: id, Call: call, Return: ret, Kind: kind, Value: value}
}

// final is the record read at the end; TestCheck gives it the token of
// the last effect of its value.
func final(value string) Op { return op("final", 1000, 1000, KindFinal, value) }

func TestCheck(t *testing.T) {
	t.Parallel()
	never := int64(math.MaxInt64)
	tests := []struct {
		name    string
		ops     []Op
		effects []string
		opts    CheckOptions
		want    string // a substring of the first violation; "" for none
	}{
		{"first call and replays",
			[]Op{op("a", 1, 5, KindValue, "a"), op("b", 2, 6, KindValue, "a"), op("c", 7, 8, KindValue, "a"), final("a")},
			[]string{"a"}, CheckOptions{}, ""},
		{"in progress while the first ran",
			[]Op{op("a", 1, 5, KindValue, "a"), op("b", 2, 3, KindEmpty, ""), final("a")},
			[]string{"a"}, CheckOptions{}, ""},
		{"died then taken over",
			[]Op{op("a", 1, never, KindAmbiguous, ""), op("b", 10, 20, KindValue, "b"), op("c", 21, 22, KindValue, "b"), final("b")},
			[]string{"a", "b"}, CheckOptions{}, ""},
		{"not recorded but it was",
			[]Op{op("a", 1, 5, KindAmbiguous, ""), op("b", 6, 7, KindValue, "a"), final("a")},
			[]string{"a"}, CheckOptions{}, ""},
		{"store failed",
			[]Op{op("a", 1, 5, KindNone, ""), final("")},
			nil, CheckOptions{}, ""},
		{"two outcomes",
			[]Op{op("a", 1, 5, KindValue, "a"), op("b", 6, 7, KindValue, "b"), final("b")},
			[]string{"a", "b"}, CheckOptions{}, "not linearizable"},
		{"replay of another value",
			[]Op{op("a", 1, 5, KindValue, "a"), op("b", 6, 7, KindValue, "x"), final("a")},
			[]string{"a"}, CheckOptions{}, "not linearizable"},
		{"stale replay after a newer outcome",
			[]Op{op("a", 1, never, KindAmbiguous, ""), op("b", 10, 20, KindValue, "b"), op("c", 21, 22, KindValue, "a"), final("a")},
			[]string{"a", "b"}, CheckOptions{}, "not linearizable"},
		{"in progress after the outcome",
			[]Op{op("a", 1, 5, KindValue, "a"), op("b", 6, 7, KindEmpty, ""), final("a")},
			[]string{"a"}, CheckOptions{}, "not linearizable"},
		{"record lost",
			[]Op{op("a", 1, 5, KindValue, "a"), final("")},
			[]string{"a"}, CheckOptions{}, "not linearizable"},
		{"corrupt",
			[]Op{op("a", 1, 5, KindBad, ""), final("")},
			nil, CheckOptions{}, "not linearizable"},
		{"effect of a failed call",
			[]Op{op("a", 1, 5, KindEmpty, ""), final("")},
			[]string{"a"}, CheckOptions{}, "ended empty"},
		{"effect twice",
			[]Op{op("a", 1, 5, KindValue, "a"), final("a")},
			[]string{"a", "a"}, CheckOptions{}, "twice"},
		{"phantom effect",
			[]Op{op("a", 1, 5, KindValue, "a"), final("a")},
			[]string{"a", "zz"}, CheckOptions{}, "no call of this key"},
		{"outcome without effect",
			[]Op{op("a", 1, 5, KindValue, "a"), final("a")},
			nil, CheckOptions{}, "has no effect"},
		{"exactly once: an effect of a call that died",
			[]Op{op("a", 1, never, KindAmbiguous, ""), op("b", 10, 20, KindValue, "b"), final("b")},
			[]string{"a", "b"}, CheckOptions{ExactlyOnce: true}, "must commit together"},
		{"at most once: taken over",
			[]Op{op("a", 1, never, KindAmbiguous, ""), op("b", 10, 20, KindValue, "b"), final("b")},
			[]string{"a", "b"}, CheckOptions{AtMostOnce: true}, "at most one"},
		{"at most once: abandoned",
			[]Op{op("a", 1, never, KindAmbiguous, ""), op("b", 10, 20, KindEmpty, ""), final("")},
			[]string{"a"}, CheckOptions{AtMostOnce: true}, ""},
		{"stale write accepted",
			[]Op{op("a", 1, 30, KindValue, "a"), op("b", 10, 20, KindAmbiguous, ""), final("a")},
			[]string{"a", "b"}, CheckOptions{}, "stale execution"},
		{"remembered failure",
			[]Op{
				{Key: "k", ID: "a", Call: 1, Return: 5, Kind: KindAmbiguous, Value: FailureOutcome("a")},
				{Key: "k", ID: "b", Call: 6, Return: 7, Kind: KindFailed, Value: FailureOutcome("a")},
				final(FailureOutcome("a"))},
			nil, CheckOptions{ExactlyOnce: true}, ""},
		{"remembered failure then a value",
			[]Op{
				{Key: "k", ID: "a", Call: 1, Return: 5, Kind: KindAmbiguous, Value: FailureOutcome("a")},
				{Key: "k", ID: "b", Call: 6, Return: 7, Kind: KindFailed, Value: FailureOutcome("a")},
				op("c", 8, 9, KindValue, "c"), final("c")},
			[]string{"c"}, CheckOptions{}, "not linearizable"},
		{"no final read",
			[]Op{op("a", 1, 5, KindValue, "a")},
			[]string{"a"}, CheckOptions{}, "0 final reads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var effects []Effect
			for _, id := range tt.effects {
				// Tokens grow in the order effects are listed.
				effects = append(effects, Effect{Key: "k", ID: id, Token: uint64(len(effects) + 1)})
			}
			ops := slices.Clone(tt.ops)
			for i := range ops {
				for _, e := range effects {
					if ops[i].Kind == KindFinal && e.ID == ops[i].Value {
						ops[i].Token = e.Token
					}
				}
			}
			r := Check(ops, effects, tt.opts)
			switch {
			case tt.want == "" && len(r.Violations) > 0:
				t.Fatalf("violations: %v", r.Violations)
			case tt.want != "" && len(r.Violations) == 0:
				t.Fatalf("no violation; want %q", tt.want)
			case tt.want != "" && !slices.ContainsFunc(r.Violations, func(v string) bool { return strings.Contains(v, tt.want) }):
				t.Fatalf("violations %q; want one with %q", r.Violations, tt.want)
			}
		})
	}
}

// TestReadHistory: a call whose end was never written reads as one that
// died; the ends of others keep their start times.
func TestReadHistory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h")
	r, err := NewRecorder(path)
	if err != nil {
		t.Fatal(err)
	}
	start, _ := r.Start("k", "a")
	if err := r.End(Op{Key: "k", ID: "a", Kind: KindValue, Value: "a"}); err != nil {
		t.Fatal(err)
	}
	_, _ = r.Start("k", "b")
	r.Close()
	ops, err := ReadHistory(path, filepath.Join(t.TempDir(), "missing"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0].ID != "a" || ops[0].Call != start || ops[0].Return < start || ops[0].Kind != KindValue {
		t.Fatalf("ops %v", ops)
	}
	if ops[1].Kind != KindAmbiguous || ops[1].Return != math.MaxInt64 {
		t.Fatalf("unfinished call read as %v; want ambiguous, never returned", ops[1])
	}
}
