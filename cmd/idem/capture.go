package main

import "io"

// capture passes a command's output through to idem's own stream while
// keeping its first limit bytes for the record. A failing pass-through (a
// closed pipe) is dropped rather than reported, so that the command is
// never stopped by it and its outcome is still recorded.
type capture struct {
	out       io.Writer // nil once a write to it failed
	limit     int
	buf       []byte
	truncated bool
}

func (c *capture) Write(p []byte) (int, error) {
	if c.out != nil {
		if _, err := c.out.Write(p); err != nil {
			c.out = nil
		}
	}
	keep := p
	if room := c.limit - len(c.buf); len(keep) > room {
		keep, c.truncated = keep[:max(room, 0)], true
	}
	c.buf = append(c.buf, keep...)
	return len(p), nil
}
