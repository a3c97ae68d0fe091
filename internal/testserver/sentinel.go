package testserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisSentinel is a primary, its replicas and one Sentinel watching them
// under the master name "mymaster" with a quorum of 1.
type RedisSentinel struct {
	Primary  *Redis
	Replicas []*Redis
	Sentinel *Redis
}

// MasterName is the name the Sentinel knows the primary by.
const MasterName = "mymaster"

// StartRedisSentinel starts a primary, replicas replicating from it and a
// Sentinel (redis-server --sentinel) that declares a primary down after
// one second without answers. It returns once the replicas are in sync and
// the Sentinel has discovered them, so that a failover can begin at once.
func StartRedisSentinel(t testing.TB, replicas int) *RedisSentinel {
	t.Helper()
	needCLI(t)
	s := &RedisSentinel{Primary: StartRedis(t)}
	for range replicas {
		s.Replicas = append(s.Replicas, StartRedis(t, RedisArgs("--replicaof", "127.0.0.1", strconv.Itoa(s.Primary.Port()))))
	}
	for _, r := range s.Replicas {
		waitRedis(t, r.Addr(), "replica in sync", func() bool {
			return strings.Contains(redisCLI(r.Addr(), "info", "replication"), "master_link_status:up")
		})
	}

	// Sentinel rewrites its config file, so it gets one of its own.
	sen := &Redis{t: t, bin: s.Primary.bin, port: FreePort(t), dir: t.TempDir()}
	conf := filepath.Join(sen.dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
		"sentinel monitor %[5]s 127.0.0.1 %[4]d 1\n"+
		"sentinel down-after-milliseconds %[5]s 1000\n"+
		"sentinel failover-timeout %[5]s 10000\n",
		sen.port, sen.dir, filepath.Join(sen.dir, "redis.log"), s.Primary.Port(), MasterName)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	sen.args = []string{conf, "--sentinel"}
	t.Cleanup(sen.Kill)
	sen.start()
	s.Sentinel = sen
	waitRedis(t, sen.Addr(), "sentinel sees the replicas", func() bool {
		return strings.Count(redisCLI(sen.Addr(), "sentinel", "replicas", MasterName), "flags") >= replicas
	})
	return s
}

// Master returns the address the Sentinel reports for the primary now.
func (s *RedisSentinel) Master() string {
	out := strings.Fields(redisCLI(s.Sentinel.Addr(), "sentinel", "get-master-addr-by-name", MasterName))
	if len(out) != 2 {
		return ""
	}
	return out[0] + ":" + out[1]
}

// Failover makes the Sentinel promote a replica (SENTINEL FAILOVER) and
// returns the new primary's address once the Sentinel reports it, it
// accepts writes, and the old primary has become its replica (so that no
// write can reach the old one any more).
func (s *RedisSentinel) Failover(t testing.TB) string {
	t.Helper()
	old := s.Master()
	// A replica the Sentinel discovered moments ago is not yet a candidate
	// (NOGOODSLAVE) until it has answered the Sentinel's PINGs and INFO.
	waitRedis(t, s.Sentinel.Addr(), "SENTINEL FAILOVER accepted", func() bool {
		out := redisCLI(s.Sentinel.Addr(), "sentinel", "failover", MasterName)
		if !strings.HasPrefix(out, "OK") && !strings.HasPrefix(out, "NOGOODSLAVE") {
			t.Fatalf("testserver: SENTINEL FAILOVER: %q", out)
		}
		return strings.HasPrefix(out, "OK")
	})
	var now string
	waitRedis(t, s.Sentinel.Addr(), "failover", func() bool {
		now = s.Master()
		return now != "" && now != old && strings.Contains(redisCLI(now, "info", "replication"), "role:master")
	})
	waitRedis(t, old, "demoted to a replica of "+now, func() bool {
		info := redisCLI(old, "info", "replication")
		return strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up")
	})
	return now
}

// redisCLI runs redis-cli against addr and returns its output, or the
// error's text.
func redisCLI(addr string, args ...string) string {
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, cli, _ := redisBins()
	out, err := exec.CommandContext(ctx, cli, append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		return err.Error() + ": " + string(out)
	}
	return string(out)
}

func waitRedis(t testing.TB, addr, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("testserver: %s: %s not reached within %v", addr, what, startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
