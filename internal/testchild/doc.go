// Package testchild runs the test binary again as a child process, for
// tests of behaviour across processes: a child claims a key, performs an
// effect (a line appended to a file, counted from outside the processes)
// and the parent SIGKILLs or SIGSTOPs it at a chosen point.
//
// A package's TestMain calls [Main] (or [Child] before its own set-up); its
// tests start children with [Command] and [Start].
package testchild
