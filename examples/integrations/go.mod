module github.com/idempotency-go/idempotency/examples/integrations

go 1.26.0

require (
	github.com/idempotency-go/idempotency v0.0.0
	github.com/idempotency-go/idempotency/idemgrpc v0.0.0
	github.com/idempotency-go/idempotency/idemkafka v0.0.0-00010101000000-000000000000
	github.com/idempotency-go/idempotency/idemnats v0.0.0-00010101000000-000000000000
	github.com/nats-io/nats-server/v2 v2.15.3
	github.com/nats-io/nats.go v1.56.0
	github.com/twmb/franz-go v1.22.3
	github.com/twmb/franz-go/pkg/kfake v0.0.0-20260918054303-01f206a7e32c
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.9.0-default-no-op // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.3 // indirect
	github.com/nats-io/nkeys v0.4.17 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/twmb/franz-go/pkg/kmsg v1.15.1 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
)

replace (
	github.com/idempotency-go/idempotency => ../../
	github.com/idempotency-go/idempotency/idemgrpc => ../../idemgrpc
	github.com/idempotency-go/idempotency/idemkafka => ../../idemkafka
	github.com/idempotency-go/idempotency/idemnats => ../../idemnats
)
