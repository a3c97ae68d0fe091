//go:build unix && !linux

package main

import "time"

// Outside Linux there is no child subreaper: killTree kills the process
// group only, and a descendant that left it (setsid, a daemon) survives.
func becomeSubreaper() {}

func liveDescendants(int) []int { return nil }

func sleepBriefly() { time.Sleep(5 * time.Millisecond) }
