module github.com/idempotency-go/idempotency

go 1.26.0

require go.uber.org/goleak v1.3.0

require github.com/go-chi/chi/v5 v5.2.3
