package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/redis/go-redis/v9"
)

// A guard on Redis: every server running this code shares the records, so
// a retried or duplicated request charges once.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	store := redisstore.New(rdb, nil) // keys under "idempotency:"
	defer store.Close()
	g := idempotency.New(store, &idempotency.Config{TTL: 24 * time.Hour, Lease: 30 * time.Second})

	ctx := context.Background()
	receipt, err := idempotency.Do(ctx, g, "charge:order-1234", func(ctx context.Context) (string, error) {
		return "receipt-1", nil // charge the card here
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(receipt)
}

// On Redis Cluster, pass a ClusterClient: each record lives in one hash
// slot, and waiting duplicates use sharded pub/sub.
func ExampleNew_cluster() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
	})
	defer rdb.Close()
	store := redisstore.New(rdb, &redisstore.Options{Prefix: "billing:idem:"})
	defer store.Close()
	// Optional: load the scripts now so that even the first calls cost
	// the minimum of round trips.
	if err := store.LoadScripts(context.Background()); err != nil {
		log.Print(err)
	}
	_ = idempotency.New(store, nil)
}

// With Sentinel, pass a failover client; see the README for what a
// failover can cost.
func ExampleNew_sentinel() {
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "mymaster",
		SentinelAddrs: []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
	})
	defer rdb.Close()
	store := redisstore.New(rdb, nil)
	defer store.Close()
	_ = idempotency.New(store, nil)
}

// A prefix with braces would pin every record to one Cluster slot:
// Validate refuses it (and New panics with the same error) unless
// AllowHashTagPrefix says it is meant.
func ExampleOptions_Validate() {
	opts := &redisstore.Options{Prefix: "billing{eu}:"}
	fmt.Println(opts.Validate())
	opts.AllowHashTagPrefix = true
	fmt.Println(opts.Validate())
	// Output:
	// idempotency: redisstore: invalid options: Prefix "billing{eu}:" holds a brace: on Redis Cluster it would pin every record to one hash slot; leave braces out, or set AllowHashTagPrefix to mean it
	// <nil>
}
