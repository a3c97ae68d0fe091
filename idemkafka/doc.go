// Package idemkafka runs the handler of a Kafka consumer (franz-go) at
// most once per record, across redeliveries after a lost commit, group
// rebalances, crashed members and competing consumer groups.
//
//	g := idempotency.New(store, nil) // a store every member shares
//	cons := idemkafka.New(g, func(ctx context.Context, r *kgo.Record) error {
//		return ship(ctx, r.Value)
//	}, &idemkafka.Config{Name: "ship"})
//	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
//		kgo.ConsumerGroup("shipping"), kgo.ConsumeTopics("orders"),
//		kgo.DisableAutoCommit())
//	err = cons.Run(ctx, cl)
//
// Kafka delivers at least once: records whose offsets were not committed
// come again to the partition's next owner, after a crash, a rebalance or
// a reset of the group. Consumer.Run claims each record's key in the
// guard's store before running the handler, records the outcome, and
// commits the offset only then. A record whose key was already handled is
// committed without running the handler; one whose key another consumer
// holds right now is tried again after Config.BusyDelay and is not
// committed meanwhile, nor is any record after it in its partition.
//
// # Keys
//
// The key of a record is its topic, partition and offset (OffsetKey), or
// the value of the header Config.Header, or what Config.Key returns.
// Config.Name tells apart handlers with different effects on the same
// records: each runs once per record. The record's key and value are its
// fingerprint: a record that reuses a handled key with other content is
// skipped, never handled.
//
// # Failures
//
// A handler error releases the key, and Run tries the record again after
// Config.RetryDelay; under the guard's OnFailure Remember the failure is
// final instead and the record is skipped. When the store fails before the
// handler runs, Run tries again after Config.RetryDelay; the handler did
// not run. When the handler succeeded but the store failed to record it,
// Run commits the record anyway: trying again would run the handler again
// once the claim lapsed. Records that can never be handled (no key, a
// reused key, an execution abandoned under the guard's NoTakeover) go to
// Config.OnSkip and are committed past.
//
// A member that dies while its handler runs leaves a claim that lapses
// with the guard's Lease; the partition's next owner then runs the
// handler, once.
package idemkafka
