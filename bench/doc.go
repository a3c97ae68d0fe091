// Package bench measures the guard against baselines in the same run: a
// bare call of the function, and golang.org/x/sync/singleflight (which
// collapses concurrent duplicates but remembers nothing). It is a module
// of its own so that benchmark dependencies stay out of users' builds.
//
//	cd bench && go test -run '^$' -bench . -benchmem
package bench
