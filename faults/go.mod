module github.com/idempotency-go/idempotency/faults

go 1.24

replace (
	github.com/idempotency-go/idempotency => ../
	github.com/idempotency-go/idempotency/pgstore => ../pgstore
	github.com/idempotency-go/idempotency/redisstore => ../redisstore
)

require github.com/anishathalye/porcupine v1.3.1
