package idemkafka_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/idemkafka"
	"github.com/idempotency-go/idempotency/memstore"
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

func newGuard(t *testing.T, store idempotency.Store, cfg *idempotency.Config) *idempotency.Guard {
	t.Helper()
	if store == nil {
		m := memstore.New(&memstore.Options{SweepInterval: -1})
		t.Cleanup(func() { _ = m.Close() })
		store = m
	}
	return idempotency.New(store, cfg)
}

// effects counts the runs of a handler per record value.
type effects struct {
	mu sync.Mutex
	n  map[string]int
}

func (e *effects) add(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == nil {
		e.n = map[string]int{}
	}
	e.n[key]++
}

func (e *effects) handler() idemkafka.Handler {
	return func(ctx context.Context, r *kgo.Record) error {
		e.add(string(r.Value))
		return nil
	}
}

// exactlyOnce fails unless every key in keys ran exactly once, and no
// other key ran.
func (e *effects) exactlyOnce(t *testing.T, keys ...string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.n) != len(keys) {
		t.Fatalf("effects for %d records, want %d: %v", len(e.n), len(keys), e.n)
	}
	for _, k := range keys {
		if e.n[k] != 1 {
			t.Fatalf("record %s ran %d times, want 1 (all: %v)", k, e.n[k], e.n)
		}
	}
}

// flakyStore is a store whose backend can be switched off: while down,
// every Claim fails as a network store's does when its server is gone;
// with lossy set, every Complete does.
type flakyStore struct {
	idempotency.Store
	down, lossy atomic.Bool
}

var errConnRefused = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

func (s *flakyStore) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.Claim, error) {
	if s.down.Load() {
		return idempotency.Claim{}, errConnRefused
	}
	return s.Store.Claim(ctx, req)
}

func (s *flakyStore) Complete(ctx context.Context, key string, token idempotency.Token, out idempotency.Outcome) error {
	if s.lossy.Load() {
		return errConnRefused
	}
	return s.Store.Complete(ctx, key, token, out)
}

// lines reads a file of effect lines; a missing file has none.
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}

// appendLine appends one line to path, the effect the cross-process tests
// count from outside the processes.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
