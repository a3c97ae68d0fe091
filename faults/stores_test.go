package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/filestore"
	"github.com/idempotency-go/idempotency/idemtype"
	"github.com/idempotency-go/idempotency/internal/testserver"
	"github.com/idempotency-go/idempotency/memstore"
	"github.com/idempotency-go/idempotency/pgstore"
	"github.com/idempotency-go/idempotency/redisstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// dialer dials the proxy that stands for addr, if any.
func dialer(m map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if p, ok := m[addr]; ok {
			addr = p
		}
		return d.DialContext(ctx, network, addr)
	}
}

// openStore opens the store sp names (all but memory, which lives in one
// process) and returns it with a function that closes it.
func openStore(ctx context.Context, sp spec) (idempotency.Store, func(), error) {
	var s idempotency.Store
	var closer func()
	switch sp.Store {
	case "file":
		fs, err := filestore.New(sp.Dir, &filestore.Options{Now: clock(sp.Jumps), NoSync: true, SweepInterval: -1, PollInterval: 20 * time.Millisecond})
		if err != nil {
			return nil, nil, err
		}
		s, closer = fs, func() { fs.Close() }
	case "redis", "cluster":
		var c redis.UniversalClient
		// Workers do not retry a command whose connection failed: every
		// lost reply reaches the guard.
		retries := 0
		if sp.Worker != "" && sp.Worker != "p" {
			retries = -1
		}
		if sp.Store == "redis" {
			c = redis.NewClient(&redis.Options{Addr: sp.Addrs[0], Dialer: dialer(sp.Dial), MaxRetries: retries})
		} else {
			c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: sp.Addrs, Dialer: dialer(sp.Dial), MaxRetries: retries})
		}
		rs := newRedisStore(c, sp.Prefix, readFirst(sp.Worker))
		s, closer = rs, func() { rs.Close(); c.Close() }
	case "pg", "pgtx":
		cfg, err := pgxpool.ParseConfig(sp.DSN)
		if err != nil {
			return nil, nil, err
		}
		cfg.MaxConns = 4
		cfg.ConnConfig.DialFunc = dialer(sp.Dial)
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		var ps *pgstore.Store
		// The schema is there, but the connection may be cut by a proxy
		// or refused by a server restarting: retry for a while.
		for i := 0; ; i++ {
			if ps, err = pgstore.New(ctx, pool, &pgstore.Options{Table: sp.Prefix, PollInterval: 50 * time.Millisecond, ReadFirst: readFirst(sp.Worker)}); err == nil || i == 300 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		s, closer = ps, func() { ps.Close(); pool.Close() }
	default:
		return nil, nil, fmt.Errorf("faults: no store %q", sp.Store)
	}
	return wrapBroken(sp.Broken, s), closer, nil
}

// servers are the servers of one TestMatrix run, started on first use.
type servers struct {
	t  *testing.T
	mu sync.Mutex

	redis   *testserver.Redis
	cluster []*testserver.Redis
	pg      *testserver.Postgres
	pgDSN   string
}

func (s *servers) redisServer() *testserver.Redis {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.redis == nil {
		s.redis = testserver.StartRedis(s.t, testserver.RedisAppendOnly())
	}
	return s.redis
}

// clusterNodes starts a Redis Cluster of three masters with a replica
// each, all logging every write (appendfsync always), so that a killed
// node restarts with its records and its place in the cluster (nodes.conf).
func (s *servers) clusterNodes() []*testserver.Redis {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cluster != nil {
		return s.cluster
	}
	var addrs []string
	for range 6 {
		n := testserver.StartRedis(s.t, testserver.RedisClusterNode(), testserver.RedisAppendOnly())
		s.cluster = append(s.cluster, n)
		addrs = append(addrs, n.Addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		s.t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	s.waitCluster(s.t)
	return s.cluster
}

// waitCluster waits until every node reports cluster_state:ok, every
// replica is in sync with its master, and every node sees three masters
// with a replica each.
func (s *servers) waitCluster(t testing.TB) {
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range s.cluster {
		c := redis.NewClient(&redis.Options{Addr: n.Addr()})
		for {
			info, _ := c.ClusterInfo(context.Background()).Result()
			repl, _ := c.Info(context.Background(), "replication").Result()
			nodes, _ := c.ClusterNodes(context.Background()).Result()
			if strings.Contains(info, "cluster_state:ok") &&
				(strings.Contains(repl, "role:master") || strings.Contains(repl, "master_link_status:up")) &&
				strings.Count(nodes, "master") == 3 && strings.Count(nodes, "slave") == 3 && !strings.Contains(nodes, "fail") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("cluster node %s: not settled within 60s:\n%s\n%s\n%s", n.Addr(), info, repl, nodes)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
}

// clusterNode returns the n-th (modulo) current master or replica.
func (s *servers) clusterNode(t testing.TB, role string, n int) *testserver.Redis {
	var of []*testserver.Redis
	for _, node := range s.cluster {
		c := redis.NewClient(&redis.Options{Addr: node.Addr()})
		repl, err := c.Info(context.Background(), "replication").Result()
		c.Close()
		if err == nil && strings.Contains(repl, "role:"+role) {
			of = append(of, node)
		}
	}
	if len(of) == 0 {
		t.Fatalf("cluster: no %s", role)
	}
	return of[n%len(of)]
}

// failover promotes the n-th replica with CLUSTER FAILOVER: a manual
// failover, in which the master stops taking writes until its replica has
// caught up, then hands its slots over.
func (s *servers) failover(t testing.TB, n int) {
	r := s.clusterNode(t, "slave", n)
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer c.Close()
	// A manual failover that does not complete within Redis's own bound
	// (5s: a loaded machine can miss it) is abandoned and the replica
	// stays one: ask again until it is promoted.
	deadline := time.Now().Add(60 * time.Second)
	var asked time.Time
	promoted := func() (bool, string) {
		repl, _ := c.Info(context.Background(), "replication").Result()
		return strings.Contains(repl, "role:master"), repl
	}
	for {
		if time.Since(asked) > 10*time.Second {
			// An error may mean it was promoted just now.
			if err := c.ClusterFailover(context.Background()).Err(); err != nil {
				if ok, _ := promoted(); !ok {
					t.Fatalf("CLUSTER FAILOVER on %s: %v", r.Addr(), err)
				}
			}
			asked = time.Now()
		}
		ok, repl := promoted()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not promoted within 60s: %s", r.Addr(), repl)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.waitCluster(t)
}

func (s *servers) postgres() (*testserver.Postgres, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pg == nil {
		s.pg = testserver.StartPostgres(s.t, nil)
		s.pgDSN = s.pg.CreateDB(s.t)
	}
	return s.pg, s.pgDSN
}

// setUp fills in sp's store fields for a fresh cell and returns the
// addresses a proxy may stand for.
func (s *servers) setUp(ctx context.Context, t *testing.T, sp *spec) []string {
	switch sp.Store {
	case "file":
		sp.Dir = t.TempDir()
	case "redis":
		sp.Addrs = []string{s.redisServer().Addr()}
	case "cluster":
		sp.Addrs = nil
		for _, n := range s.clusterNodes() {
			sp.Addrs = append(sp.Addrs, n.Addr())
		}
	case "pg", "pgtx":
		p, dsn := s.postgres()
		sp.DSN = dsn
		// The table and its ledger exist before any worker starts, so
		// that workers' migrations are no-ops.
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		ps, err := pgstore.New(ctx, pool, &pgstore.Options{Table: sp.Prefix})
		if err != nil {
			t.Fatal(err)
		}
		ps.Close()
		if _, err := pool.Exec(ctx, "CREATE TABLE "+ledgerTable(sp.Prefix)+" (key text NOT NULL, id text NOT NULL, token bigint NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		return []string{testserver.Addr(p.Port())}
	}
	return sp.Addrs
}

// restart kills the store's server (a Cluster's node n) and starts it
// again.
func (s *servers) restart(t *testing.T, store string, n int) {
	switch store {
	case "redis":
		s.redis.Restart()
	case "cluster":
		s.clusterNode(t, "master", n).Restart()
		s.waitCluster(t)
	case "pg", "pgtx":
		if err := s.pg.Kill(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // clients see the refused connections
		if err := s.pg.Restart(); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("no server to restart for %s", store)
	}
}

// finals reads each key's record after the cell, straight from the store
// (no proxy, no broken wrapper): the recorded value, or "" when the key
// has no outcome.
func finals(ctx context.Context, s idempotency.Store, keys []string) ([]Op, error) {
	now := time.Now().UnixNano()
	var ops []Op
	for _, k := range keys {
		op := Op{Key: k, ID: "final", Call: now, Return: now, Kind: KindFinal}
		rec, err := s.Get(ctx, k)
		for i := 0; err != nil && !errors.Is(err, idempotency.ErrNotFound) && i < 50; i++ {
			// A connection the restarted server broke: the pool makes a
			// new one.
			time.Sleep(100 * time.Millisecond)
			rec, err = s.Get(ctx, k)
		}
		switch {
		case errors.Is(err, idempotency.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("final read of %s: %w", k, err)
		case rec.Status == idempotency.StatusCompleted:
			op.Token = uint64(rec.Token)
			if err := json.Unmarshal(rec.Value, &op.Value); err != nil {
				op.Value = "undecodable:" + string(rec.Value)
			}
		case rec.Status == idempotency.StatusFailed:
			// Recorded as data: {"message": "panic: {call-id}"}.
			var f struct{ Message string }
			if json.Unmarshal(rec.Value, &f) != nil || failureOf(f.Message) == "" {
				op.Value = "undecodable failure:" + string(rec.Value)
			} else {
				op.Value = failureOf(f.Message)
			}
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// readEffects reads the effects file, or the ledger table of a DoTx cell.
func readEffects(ctx context.Context, sp spec) ([]Effect, error) {
	var effects []Effect
	if sp.Store == "pgtx" {
		pool, err := pgxpool.New(ctx, sp.DSN)
		if err != nil {
			return nil, err
		}
		defer pool.Close()
		rows, err := pool.Query(ctx, "SELECT key, id, token FROM "+ledgerTable(sp.Prefix))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var e Effect
			var token int64
			if err := rows.Scan(&e.Key, &e.ID, &token); err != nil {
				return nil, err
			}
			e.Token = uint64(token)
			effects = append(effects, e)
		}
		return effects, rows.Err()
	}
	f, err := os.Open(sp.Effects)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Effect
		if n, err := fmt.Sscanf(sc.Text(), "%s %s %d", &e.Key, &e.ID, &e.Token); n != 3 {
			return nil, fmt.Errorf("torn effect line %q: %v", sc.Text(), err)
		}
		effects = append(effects, e)
	}
	return effects, sc.Err()
}

// newMemStore is the in-process store of the memory cells.
func newMemStore(sp spec) *memstore.Store {
	return memstore.New(&memstore.Options{Now: clock(sp.Jumps)})
}

func newRedisStore(c redis.UniversalClient, prefix string, rf idemtype.ReadFirst) *redisstore.Store {
	return redisstore.New(c, &redisstore.Options{Prefix: prefix, ReadFirst: rf})
}

// readFirst is how a worker's Redis or PostgreSQL store claims: workers
// w1, w3, ... read before every claim, the others (and the parent p) as by
// default, so that both ways of answering a duplicate meet on the same
// keys under every fault.
func readFirst(worker string) idemtype.ReadFirst {
	if worker != "" && worker[len(worker)-1]%2 == 1 {
		return idemtype.ReadFirstAlways
	}
	return idemtype.ReadFirstAuto
}
