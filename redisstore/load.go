package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"
)

var scripts = []*script{claimScript, extendScript, completeScript, releaseScript, deleteScript}

// LoadScripts loads the store's scripts into the script cache of the
// server (every master of a Cluster). It is optional: without it, the
// first use of each script on a server costs one extra round trip (EVALSHA
// answered NOSCRIPT, then EVAL), and so does the first use after a restart
// or SCRIPT FLUSH. Call it at startup to keep even the first calls at the
// round-trip floor.
func (s *Store) LoadScripts(ctx context.Context) error {
	load := func(ctx context.Context, c redis.Scripter) error {
		for _, sc := range scripts {
			if err := sc.Load(ctx, c).Err(); err != nil {
				return wrap("load scripts", err)
			}
		}
		return nil
	}
	if s.cluster != nil {
		return s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return load(ctx, c) })
	}
	return load(ctx, s.client)
}
