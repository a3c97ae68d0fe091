package idemkafka_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemkafka"
)

// A consumer group that ships orders, and a second group that replays the
// topic from the start with the same Name: nothing ships twice. The
// cluster is kfake, in-process, so that the example runs anywhere.
func Example() {
	cluster, _ := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	defer cluster.Close()
	producer, _ := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	defer producer.Close()
	ctx := context.Background()
	for _, id := range []string{"order-1", "order-2"} {
		producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(id)})
	}

	g := idempotency.New(nil, nil) // use a store all members share
	defer g.Close()
	cons := idemkafka.New(g, func(ctx context.Context, r *kgo.Record) error {
		fmt.Println("shipping", string(r.Value))
		return nil
	}, &idemkafka.Config{Name: "ship"})

	for _, group := range []string{"shipping", "shipping-replay"} {
		cl, _ := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics("orders"),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		// Run until the group has committed both records.
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = cons.Run(ctx, cl) }()
		for deadline := time.Now().Add(20 * time.Second); cl.CommittedOffsets()["orders"][0].Offset < 2 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		cl.Close()
		fmt.Println(group, "done")
	}
	// Output:
	// shipping order-1
	// shipping order-2
	// shipping done
	// shipping-replay done
}
