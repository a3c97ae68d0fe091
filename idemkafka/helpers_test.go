package idemkafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/idempotency-go/idempotency/idemkafka"
	"github.com/idempotency-go/idempotency/internal/teststore"
)

const (
	topic = "orders"
	bound = 20 * time.Second // every wait in these tests
)

// cluster is a kfake Kafka cluster on loopback.
type cluster struct {
	t     *testing.T
	addrs []string
}

func startCluster(t *testing.T, partitions int32) *cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic),
		// Dead members leave the group within a second, not 45.
		kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "100"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &cluster{t: t, addrs: c.ListenAddrs()}
}

// memberOpts are the options of a group member that commits by itself.
func memberOpts(addrs []string, group string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(250 * time.Millisecond),
		kgo.SessionTimeout(time.Second),
		kgo.HeartbeatInterval(200 * time.Millisecond),
		kgo.RebalanceTimeout(3 * time.Second),
	}
}

func (c *cluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addrs...)}, opts...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

func (c *cluster) member(group string) *kgo.Client { return c.client(memberOpts(c.addrs, group)...) }

// produce produces records and returns the offset past the last record
// of each partition.
func (c *cluster) produce(records ...*kgo.Record) map[int32]int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for _, r := range records {
		r.Topic = topic
	}
	if err := c.client().ProduceSync(ctx, records...).FirstErr(); err != nil {
		c.t.Fatal(err)
	}
	end := map[int32]int64{}
	for _, r := range records {
		end[r.Partition] = max(end[r.Partition], r.Offset+1)
	}
	return end
}

func record(value string, headers ...string) *kgo.Record {
	r := &kgo.Record{Value: []byte(value)}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return r
}

// committed returns the group's committed offsets of the topic.
func (c *cluster) committed(group string) map[int32]int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	out := map[int32]int64{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return out // no member has joined yet
	}
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out
}

// waitCommitted waits until the group has committed want.
func (c *cluster) waitCommitted(group string, want map[int32]int64) {
	c.t.Helper()
	deadline := time.Now().Add(bound)
	for {
		got := c.committed(group)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("group %s committed %v after %v, want %v", group, got, bound, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs cons over cl until the test ends, or until the returned stop
// is called, and checks that Run returned context.Canceled.
func run(t *testing.T, cons *idemkafka.Consumer, cl *kgo.Client) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx, cl) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run: %v, want context.Canceled", err)
				}
			case <-time.After(bound):
				t.Errorf("Run did not return within %v", bound)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// effect is a handler that counts its runs per record value in e.
func effect(e *teststore.Effects) idemkafka.Handler {
	return func(ctx context.Context, r *kgo.Record) error {
		e.Add(string(r.Value))
		return nil
	}
}
