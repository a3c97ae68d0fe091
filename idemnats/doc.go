// Package idemnats runs the handler of a NATS JetStream consumer at most
// once per message, across redeliveries, consumer restarts and competing
// consumers.
//
//	g := idempotency.New(store, nil) // a store all consumer processes share
//	handle := idemnats.Wrap(g, func(ctx context.Context, msg jetstream.Msg) error {
//		return ship(ctx, msg.Data())
//	}, &idemnats.Config{Name: "ship"})
//	cc, err := consumer.Consume(idemnats.MessageHandler(ctx, handle))
//
// JetStream delivers at least once: a message whose ack was lost, whose
// consumer crashed or was recreated, or whose AckWait ran out comes again.
// The wrapped handler claims the message's key in the guard's store before
// running the handler, records the outcome, and only then acks. A
// delivery whose key was already handled is acked without running the
// handler; one whose key another consumer holds right now is nakked with
// Config.BusyDelay, to come back once that consumer has finished.
//
// # Keys
//
// The key of a message is its stream's name with its Nats-Msg-Id header
// (the publisher's id, which JetStream also uses to drop duplicate
// publishes), or with its stream sequence when it has none (MessageKey);
// Config.Key chooses another. Config.Name tells apart handlers with
// different effects on the same messages: each runs once per message.
// The subject and data are the message's fingerprint: a message that
// reuses a handled id with other content is terminated, never handled.
//
// # Settling
//
// What the wrapped handler does with a message, and returns:
//
//   - the handler succeeded and its outcome was recorded: Ack; nil (or the
//     ack's error);
//   - handled before: Ack without running the handler; nil;
//   - the handler failed: Nak after Config.RetryDelay, so that it is
//     redelivered and run again; the handler's error. Under the guard's
//     OnFailure Remember the failure is final instead: Term;
//   - another consumer runs it now: Nak after Config.BusyDelay; an error
//     matching idempotency.ErrInProgress;
//   - the store failed before the handler ran: Nak after Config.RetryDelay;
//     an error matching idempotency.ErrStore. The handler did not run;
//   - the handler succeeded but the store failed to record it: Ack, since
//     a redelivery would run the handler again once the claim lapses; an
//     error matching idempotency.ErrNotRecorded;
//   - no key, a key reused with other content, or a previous execution
//     abandoned under the guard's NoTakeover: Term; the error.
//
// A consumer that dies while its handler runs leaves a claim that lapses
// with the guard's Lease; the redelivery after the consumer's AckWait
// then runs the handler, once. Keep AckWait longer than the handler
// takes, or messages are redelivered to other consumers meanwhile (they
// get busy naks, which is harmless but wasteful).
package idemnats
