package testserver

import "testing"

func TestRedisKillRestart(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, RedisAppendOnly())
	if r.Pid() == 0 {
		t.Fatal("no pid for a running server")
	}
	if err := pingRedis(r.Addr()); err != nil {
		t.Fatalf("PING after start: %v", err)
	}
	r.Kill()
	if r.Pid() != 0 {
		t.Fatal("pid after Kill")
	}
	if err := pingRedis(r.Addr()); err == nil {
		t.Fatal("PING answered after Kill")
	}
	r.Restart()
	if err := pingRedis(r.Addr()); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
}

func TestRedisSentinelFailover(t *testing.T) {
	t.Parallel()
	s := StartRedisSentinel(t, 1)
	if got, want := s.Master(), s.Primary.Addr(); got != want {
		t.Fatalf("master = %q, want the primary %s", got, want)
	}
	if got, want := s.Failover(t), s.Replicas[0].Addr(); got != want {
		t.Fatalf("master after failover = %q, want the replica %s", got, want)
	}
}
