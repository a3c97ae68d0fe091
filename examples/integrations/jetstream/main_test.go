package main

import (
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `delivery 1 of order-1
sending the confirmation of order-1
delivery 1 of order-2
sending the confirmation of order-2
delivery 1 of order-3
sending the confirmation of order-3
delivery 2 of order-2
e-mails sent: 3
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
