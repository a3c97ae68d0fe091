module github.com/idempotency-go/idempotency/bench

go 1.26.0

require github.com/idempotency-go/idempotency v0.1.0

require golang.org/x/sync v0.14.0
