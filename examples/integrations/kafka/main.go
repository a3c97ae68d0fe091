// Command kafka runs a consumer group that ships orders, through
// idemkafka. Its first member handles every record but dies before it
// commits; the member that takes over gets the records again and commits
// them without shipping anything twice. The cluster is franz-go's kfake.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemkafka"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kafka:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		return err
	}
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		return err
	}
	defer producer.Close()
	for _, id := range []string{"order-1", "order-2", "order-3"} {
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(id),
			Headers: []kgo.RecordHeader{{Key: "Order-Id", Value: []byte(id)}}}).FirstErr(); err != nil {
			return err
		}
	}

	g := idempotency.New(nil, nil) // in-memory; use a store all members share
	defer g.Close()
	shipped := 0
	cons := idemkafka.New(g, func(ctx context.Context, r *kgo.Record) error {
		shipped++
		fmt.Fprintf(out, "shipping %s\n", r.Value)
		return nil
	}, &idemkafka.Config{Name: "shipping", Header: "Order-Id"})
	member := func() (*kgo.Client, error) {
		return kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
			kgo.ConsumerGroup("shipping"), kgo.ConsumeTopics("orders"),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}

	// The first member handles all three records and dies before its
	// commit.
	first, err := member()
	if err != nil {
		return err
	}
	for n := 0; n < 3 && ctx.Err() == nil; {
		for _, r := range first.PollFetches(ctx).Records() {
			if err := cons.Handle(ctx, r); err != nil {
				return err
			}
			n++
		}
	}
	first.Close()
	fmt.Fprintln(out, "first member gone before committing")

	// The next member gets them again: committed, not shipped.
	next, err := member()
	if err != nil {
		return err
	}
	defer next.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cons.Run(runCtx, next) }()
	for ctx.Err() == nil && next.CommittedOffsets()["orders"][0].Offset < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	fmt.Fprintf(out, "next member committed offset %d; orders shipped: %d\n",
		next.CommittedOffsets()["orders"][0].Offset, shipped)
	if shipped != 3 {
		return fmt.Errorf("%d shipments for 3 orders", shipped)
	}
	return nil
}
