package idemhttp

import "testing"

// The waiters of a key are counted up to Config.MaxWaiters: one more is
// refused until one leaves, and the key is forgotten when the last leaves.
func TestWaitersCountedPerKey(t *testing.T) {
	t.Parallel()
	w := &waiters{n: map[string]int{}}
	for round := range 2 { // the count starts again from zero
		for i := range 2 {
			if !w.enter("k", 2) {
				t.Fatalf("round %d: waiter %d refused under MaxWaiters 2", round, i+1)
			}
		}
		if w.enter("k", 2) {
			t.Fatalf("round %d: a third waiter admitted under MaxWaiters 2", round)
		}
		if !w.enter("other", 2) {
			t.Fatalf("round %d: a waiter of another key refused", round)
		}
		w.leave("other")
		w.leave("k")
		if !w.enter("k", 2) {
			t.Fatalf("round %d: a waiter refused after one of two left", round)
		}
		if w.enter("k", 2) {
			t.Fatalf("round %d: a third waiter admitted after one left and one came", round)
		}
		w.leave("k")
		w.leave("k")
		if len(w.n) != 0 {
			t.Fatalf("round %d: every waiter left, the counts still hold %v", round, w.n)
		}
	}
}
