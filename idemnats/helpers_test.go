package idemnats_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	streamName = "ORDERS"
	bound      = 20 * time.Second // every wait in these tests
)

// broker is an embedded nats-server with JetStream on loopback, its data
// in a temp dir, and a client connection.
type broker struct {
	t   *testing.T
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(bound) {
		srv.Shutdown()
		t.Fatalf("nats-server not ready after %v", bound)
	}
	b := &broker{t: t, srv: srv}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	b.nc = b.connect()
	if b.js, err = jetstream.New(b.nc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if _, err := b.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: streamName, Subjects: []string{"orders.>"}, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *broker) url() string { return b.srv.ClientURL() }

func (b *broker) connect() *nats.Conn {
	b.t.Helper()
	nc, err := nats.Connect(b.url(), nats.MaxReconnects(-1))
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(nc.Close)
	return nc
}

// consumer creates (or recreates) a durable pull consumer on the stream.
func (b *broker) consumer(name string, ackWait time.Duration) jetstream.Consumer {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	c, err := b.js.CreateOrUpdateConsumer(ctx, streamName, jetstream.ConsumerConfig{
		Durable: name, AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return c
}

// publish publishes data on subject, with a Nats-Msg-Id when id is not
// empty, and extra headers as key, value pairs.
func (b *broker) publish(subject, id, data string, headers ...string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	m := nats.NewMsg(subject)
	m.Data = []byte(data)
	for i := 0; i+1 < len(headers); i += 2 {
		m.Header.Set(headers[i], headers[i+1])
	}
	var opts []jetstream.PublishOpt
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	if _, err := b.js.PublishMsg(ctx, m, opts...); err != nil {
		b.t.Fatal(err)
	}
}

// settled waits until the consumer has nothing pending nor unacked.
func settled(t *testing.T, c jetstream.Consumer) *jetstream.ConsumerInfo {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		info, err := c.Info(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s not settled after %v: %d pending, %d unacked", info.Name, bound, info.NumPending, info.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fetchOne fetches the next message, failing the test after the bound.
func fetchOne(t *testing.T, c jetstream.Consumer) jetstream.Msg {
	t.Helper()
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		batch, err := c.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			return m
		}
	}
	t.Fatalf("no message within %v", bound)
	return nil
}

// consume runs h over c's messages until the test ends.
func consume(t *testing.T, c jetstream.Consumer, h jetstream.MessageHandler) {
	t.Helper()
	cc, err := c.Consume(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Stop()
		select {
		case <-cc.Closed():
		case <-time.After(bound):
			t.Errorf("consumer did not stop within %v", bound)
		}
	})
}
