package idempotency_test

import (
	"crypto/sha256"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

type benchOrder struct {
	ID       string
	Customer string
	Amount   int64
	At       time.Time
	IP       net.IP
	Lines    []benchLine
	Tags     map[string]string
}

type benchLine struct {
	SKU string
	Qty int
}

func benchValue() benchOrder {
	return benchOrder{ID: "o-1", Customer: "alice", Amount: 4200, At: time.Unix(1700000000, 0),
		IP: net.ParseIP("192.0.2.1"), Lines: []benchLine{{"a", 1}, {"b", 2}, {"c", 3}},
		Tags: map[string]string{"src": "web", "ref": "x"}}
}

// BenchmarkKey derives the key of a typical struct argument; JSON is the
// baseline: encoding/json and SHA-256 of the same value, which is what a
// hand-rolled key would cost.
func BenchmarkKey(b *testing.B) {
	v := benchValue()
	b.Run("Key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := idempotency.Key("create-order", v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("JSONBaseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, err := json.Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			_ = sha256.Sum256(data)
		}
	})
}
