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
	want := `"pay-1" attempt 1: 201 {"account":"acct-1","payment":1} (replayed: "")
"pay-1" attempt 2: 201 {"account":"acct-1","payment":1} (replayed: "true")
"pay-2" attempt 1: 201 {"account":"acct-1","payment":2} (replayed: "")
"pay-2" attempt 2: 201 {"account":"acct-1","payment":2} (replayed: "true")
"pay-3" attempt 1: 404 {"error":"no such account"} (replayed: "")
"pay-3" attempt 2: 404 {"error":"no such account"} (replayed: "true")
"" attempt 1: 400 application/problem+json (replayed: "")
"" attempt 2: 400 application/problem+json (replayed: "")
payments made: 2
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
