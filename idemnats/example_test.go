package idemnats_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemnats"
)

// A consumer that ships orders. Replaying the stream into a new consumer
// (a restart that lost its position) ships nothing twice. The broker is
// an embedded nats-server, so that the example runs anywhere.
func Example() {
	dir, _ := os.MkdirTemp("", "idemnats-example")
	defer os.RemoveAll(dir)
	srv, _ := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	srv.ReadyForConnections(10 * time.Second)
	nc, _ := nats.Connect(srv.ClientURL())
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	_, _ = js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	for _, id := range []string{"order-1", "order-2"} {
		_, _ = js.Publish(ctx, "orders.paid", []byte(id), jetstream.WithMsgID(id))
	}

	g := idempotency.New(nil, nil) // use a store all consumer processes share
	defer g.Close()
	ship := idemnats.Wrap(g, func(ctx context.Context, msg jetstream.Msg) error {
		fmt.Println("shipping", string(msg.Data()))
		return nil
	}, &idemnats.Config{Name: "ship"})

	for _, consumer := range []string{"shipping", "shipping-after-restart"} {
		c, _ := js.CreateOrUpdateConsumer(ctx, "ORDERS", jetstream.ConsumerConfig{Durable: consumer, AckPolicy: jetstream.AckExplicitPolicy})
		batch, _ := c.Fetch(2)
		for msg := range batch.Messages() {
			if err := ship(ctx, msg); err != nil {
				fmt.Println(err)
			}
		}
		fmt.Println(consumer, "done")
	}
	// Output:
	// shipping order-1
	// shipping order-2
	// shipping done
	// shipping-after-restart done
}
