package idemtype_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/idempotency-go/idempotency/idemtype"
)

// A store decides a claim by JudgeClaim: here a lease that lapsed exactly
// now is taken over.
func ExampleJudgeClaim() {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	req := idemtype.ClaimRequest{Key: "order-42", Lease: time.Minute, TTL: time.Hour, Takeover: true}
	rec := idemtype.Claimed(req, 1, now.Add(-time.Minute)) // claimed a lease ago

	v, _ := idemtype.JudgeClaim(&rec, &req, now.Add(-time.Nanosecond))
	fmt.Println("a nanosecond before LeaseUntil:", v == idemtype.Refuse)
	v, _ = idemtype.JudgeClaim(&rec, &req, now)
	fmt.Println("at LeaseUntil:", v == idemtype.TakeOver)
	req.Takeover = false
	_, abandoned := idemtype.JudgeClaim(&rec, &req, now)
	fmt.Println("without takeover, abandoned:", abandoned)
	// Output:
	// a nanosecond before LeaseUntil: true
	// at LeaseUntil: true
	// without takeover, abandoned: true
}

func ExampleShortKey() {
	fmt.Println(idemtype.ShortKey("order-42"))
	fmt.Println(idemtype.ShortKey("tab\there"))
	fmt.Println(idemtype.ShortKey(strings.Repeat("k", 4096)))
	// Output:
	// "order-42"
	// "tab\there"
	// "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"... (4096 bytes)
}
