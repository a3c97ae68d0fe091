// Command jetstream consumes orders from NATS JetStream and sends one
// confirmation e-mail per order, through idemnats. The ack of one
// delivery is lost (the connection dropped right after the handler), so
// JetStream delivers that message again after AckWait: it is acked
// without sending a second e-mail. The broker is an embedded nats-server.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemnats"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "jetstream:", err)
		os.Exit(1)
	}
}

// lostAck is a delivery whose ack never reaches the server.
type lostAck struct{ jetstream.Msg }

func (lostAck) Ack() error { return nil }

func run(out io.Writer) error {
	dir, err := os.MkdirTemp("", "idemnats-example")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(10 * time.Second) {
		return errors.New("nats-server did not start")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		return err
	}
	for _, id := range []string{"order-1", "order-2", "order-3"} {
		// The order id as Nats-Msg-Id: JetStream drops a duplicate
		// publish, and idemnats keys the message by it.
		if _, err := js.Publish(ctx, "orders.paid", []byte(id), jetstream.WithMsgID(id)); err != nil {
			return err
		}
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "ORDERS", jetstream.ConsumerConfig{
		Durable: "mailer", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 500 * time.Millisecond,
	})
	if err != nil {
		return err
	}

	g := idempotency.New(nil, nil) // in-memory; use a store all consumer processes share
	defer g.Close()
	sent := 0
	handle := idemnats.Wrap(g, func(ctx context.Context, msg jetstream.Msg) error {
		sent++
		fmt.Fprintf(out, "sending the confirmation of %s\n", msg.Data())
		return nil
	}, &idemnats.Config{Name: "confirmation-mail"})

	for deliveries := 0; deliveries < 4; {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		for msg := range batch.Messages() {
			deliveries++
			md, err := msg.Metadata()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "delivery %d of %s\n", md.NumDelivered, msg.Data())
			if string(msg.Data()) == "order-2" && md.NumDelivered == 1 {
				msg = lostAck{msg}
			}
			if err := handle(ctx, msg); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(out, "e-mails sent: %d\n", sent)
	if sent != 3 {
		return fmt.Errorf("%d e-mails for 3 orders", sent)
	}
	return nil
}
