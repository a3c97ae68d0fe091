package redisstore

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of each SCAN step, and the size of each
// pipelined batch of HMGETs.
const scanCount = 500

// List implements idemtype.Lister. Key names are hashes, so it SCANs every
// record of the store's prefix (every master on a Cluster) and filters by
// the keys kept inside the records. A corrupt record does not stop the
// walk; its error (wrapping idemtype.ErrCorrupt) is returned at the end.
func (s *Store) List(ctx context.Context, prefix string, fn func(idemtype.Record) bool) error {
	if err := s.usable("list", ""); err != nil {
		return err
	}
	nodes := []redis.Cmdable{s.client}
	if s.cluster != nil {
		nodes = nodes[:0]
		var mu sync.Mutex
		err := s.cluster.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			nodes = append(nodes, c)
			return nil
		})
		if err != nil {
			return s.opErr("list", "", err)
		}
	}
	var bad []error
	match := globEscape(s.prefix) + "{*}"
	for _, node := range nodes {
		more, err := s.listNode(ctx, node, match, prefix, fn, &bad)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	return errors.Join(bad...)
}

// listNode walks one node; it reports false when fn asked to stop.
func (s *Store) listNode(ctx context.Context, node redis.Cmdable, match, prefix string, fn func(idemtype.Record) bool, bad *[]error) (bool, error) {
	var cursor uint64
	for {
		names, next, err := node.ScanType(ctx, cursor, match, scanCount, "hash").Result()
		if err != nil {
			return false, s.opErr("list", "", err)
		}
		if len(names) > 0 {
			cmds, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Time(ctx) // expiry is judged on the server's clock
				for _, n := range names {
					p.HMGet(ctx, n, fields...)
				}
				return nil
			})
			if err != nil && !errors.Is(err, redis.Nil) {
				return false, s.opErr("list", "", err)
			}
			now := cmds[0].(*redis.TimeCmd).Val()
			for _, c := range cmds[1:] {
				vals := c.(*redis.SliceCmd).Val()
				if isAbsent(vals) || isTombstone(vals) { // expired or released meanwhile
					continue
				}
				key, _ := vals[0].(string)
				if !strings.HasPrefix(key, prefix) {
					continue
				}
				name, _ := c.Args()[1].(string)
				rec, err := decodeHash(key, vals)
				if err == nil && s.name(key) != name {
					err = errCorrupt("holds the record of another key")
				}
				if err != nil {
					// Named by where it was found; its key only when
					// the record is under that key's name.
					if s.name(key) != name {
						key = ""
					}
					ce := err.(*idemtype.CorruptError) // decodeHash fails with nothing else
					ce.Store, ce.Op, ce.Key, ce.Path = storeName, "list", key, name
					*bad = append(*bad, ce)
					continue
				}
				if !idemtype.Live(&rec, now) {
					continue
				}
				if !fn(rec) {
					return false, nil
				}
			}
		}
		if cursor = next; cursor == 0 {
			return true, nil
		}
	}
}

// globEscape escapes the SCAN MATCH metacharacters in s.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
