// Package integrations holds runnable programs that put the guard where
// retries and redeliveries arrive: a gRPC server (grpc), a JetStream
// consumer (jetstream), a Kafka consumer group (kafka), and idemhttp under
// Echo (echo) and Gin (gin). Each starts what it needs in-process, prints
// what happened, and exits non-zero if an effect ran twice:
//
//	go run ./grpc
//
// The Echo and Gin adapters pass the HTTP conformance suite of
// idemhttp/idemhttptest through their framework (TestConformance).
package integrations
