package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer PING after it
// was started; generous because the machine may be busy.
const startTimeout = 60 * time.Second

// RedisOption configures StartRedis.
type RedisOption func(*redisConfig)

type redisConfig struct {
	appendOnly bool
	cluster    bool
	busPort    int
	extra      []string
}

// RedisAppendOnly makes the server log every write to an append-only file
// and fsync it before replying (appendonly yes, appendfsync always), so that
// a SIGKILL loses no acknowledged write.
func RedisAppendOnly() RedisOption { return func(c *redisConfig) { c.appendOnly = true } }

// RedisClusterNode starts the server with cluster mode enabled; see
// StartRedisCluster for a whole cluster.
func RedisClusterNode() RedisOption { return func(c *redisConfig) { c.cluster = true } }

// RedisArgs adds raw redis-server arguments, e.g. "--maxmemory", "10mb".
func RedisArgs(args ...string) RedisOption {
	return func(c *redisConfig) { c.extra = append(c.extra, args...) }
}

// Redis is a redis-server child process listening on a loopback port.
type Redis struct {
	t    testing.TB
	bin  string // redis-server
	port int
	dir  string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// StartRedis starts a redis-server on a free loopback port in a temp dir
// (no RDB snapshots; no AOF unless RedisAppendOnly), waits until it answers
// PING and registers a cleanup that kills it. When redis-server is not
// found (see EnvRedis) the test is skipped, or fails under
// EnvRequireServers.
func StartRedis(t testing.TB, opts ...RedisOption) *Redis {
	t.Helper()
	var c redisConfig
	for _, o := range opts {
		o(&c)
	}
	bin, _, err := redisBins()
	need(t, err)
	r := &Redis{t: t, bin: bin, port: FreePort(t), dir: t.TempDir()}
	r.args = []string{
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--dir", r.dir, "--daemonize", "no",
		"--logfile", filepath.Join(r.dir, "redis.log"),
	}
	if c.appendOnly {
		r.args = append(r.args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		r.args = append(r.args, "--appendonly", "no")
	}
	if c.cluster {
		if c.busPort == 0 {
			c.busPort = FreePort(t)
		}
		r.args = append(r.args, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(r.dir, "nodes.conf"),
			"--cluster-port", strconv.Itoa(c.busPort),
			"--cluster-node-timeout", "5000")
	}
	r.args = append(r.args, c.extra...)
	t.Cleanup(r.Kill)
	r.start()
	return r
}

// Addr returns the server's "127.0.0.1:port".
func (r *Redis) Addr() string { return Addr(r.port) }

// Port returns the server's port.
func (r *Redis) Port() int { return r.port }

// Dir returns the server's working directory (AOF, logs).
func (r *Redis) Dir() string { return r.dir }

// Pid returns the process id of the running server, or 0 when it is not
// running.
func (r *Redis) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Kill stops the server with SIGKILL and waits for it to exit: a crash.
// Killing a stopped server does nothing.
func (r *Redis) Kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	// The server runs in its own process group so that a forked AOF
	// rewrite or save child dies with it.
	killGroup(r.cmd.Process.Pid)
	<-r.done
	r.cmd = nil
}

// Restart kills the server if it runs and starts it again on the same
// port and directory, then waits until it answers PING (after loading its
// AOF, if any).
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	r.start()
}

func (r *Redis) start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := exec.Command(r.bin, r.args...)
	cmd.Dir = r.dir
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("testserver: start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	r.cmd, r.done = cmd, done
	deadline := time.Now().Add(startTimeout)
	for {
		if pingRedis(r.Addr()) == nil {
			return
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.cmd = nil
			r.t.Fatalf("testserver: redis-server exited at start: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("testserver: redis-server on %s did not answer PING within %v", r.Addr(), startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pingRedis sends PING in RESP and expects +PONG; LOADING and connection
// errors are reported as errors.
func pingRedis(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING: %q", line)
	}
	return nil
}

// RedisCluster is a Redis Cluster of masters without replicas.
type RedisCluster struct {
	// Nodes are the masters, in the order they were created.
	Nodes []*Redis
}

// Addrs returns the masters' addresses, to seed a cluster client.
func (c *RedisCluster) Addrs() []string {
	a := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		a[i] = n.Addr()
	}
	return a
}

// StartRedisCluster starts masters cluster-enabled servers on loopback,
// joins them with `redis-cli --cluster create` (no replicas) and waits
// until every node reports cluster_state:ok.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("testserver: a Redis Cluster needs at least 3 masters, not %d", masters)
	}
	needCLI(t)
	c := &RedisCluster{}
	for range masters {
		c.Nodes = append(c.Nodes, StartRedis(t, RedisClusterNode()))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	_, cli, _ := redisBins()
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("testserver: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		waitRedis(t, n.Addr(), "cluster_state:ok", func() bool {
			return strings.Contains(redisCLI(n.Addr(), "cluster", "info"), "cluster_state:ok")
		})
	}
	return c
}

type redisPaths struct{ server, cli string }

var findRedis = sync.OnceValues(func() (redisPaths, error) {
	server, cli, err := system.redis()
	return redisPaths{server, cli}, err
})

// redisBins finds redis-server and redis-cli, once per process.
func redisBins() (server, cli string, err error) {
	p, err := findRedis()
	return p.server, p.cli, err
}

// needCLI skips or fails t when redis-cli is missing.
func needCLI(t testing.TB) {
	t.Helper()
	_, cli, err := redisBins()
	if err == nil && cli == "" {
		err = missing("redis-cli", "beside redis-server and on PATH", EnvRedis)
	}
	need(t, err)
}
