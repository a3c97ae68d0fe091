package main

import (
	"bufio"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func decodeViews(t *testing.T, out string) []recordView {
	t.Helper()
	var vs []recordView
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var v recordView
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		vs = append(vs, v)
	}
	return vs
}

func keysOf(vs []recordView) []string {
	var ks []string
	for _, v := range vs {
		ks = append(ks, v.Key)
	}
	slices.Sort(ks)
	return ks
}

func TestGetForgetList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, k := range []string{"job:a", "job:b", "other"} {
		e.idem("run", "--key", k, "--ttl", "forever", "--", "sh", "-c", "echo "+k+"; echo x >> effects").want(t, 0)
	}
	if got := keysOf(decodeViews(t, e.idem("list").want(t, 0).stdout)); !slices.Equal(got, []string{"job:a", "job:b", "other"}) {
		t.Fatalf("list: %q", got)
	}
	if got := keysOf(decodeViews(t, e.idem("list", "job:").want(t, 0).stdout)); !slices.Equal(got, []string{"job:a", "job:b"}) {
		t.Fatalf("list job: %q", got)
	}

	vs := decodeViews(t, e.idem("get", "job:a").want(t, 0).stdout)
	if len(vs) != 1 {
		t.Fatalf("get printed %d records", len(vs))
	}
	v := vs[0]
	if v.Key != "job:a" || v.Status != "completed" || v.Token == 0 || v.ExpiresAt != nil || v.LeaseUntil != nil ||
		v.CreatedAt.IsZero() || v.UpdatedAt.Before(v.CreatedAt) || v.ValueSize == 0 || v.Run == nil || v.Run.Exit != 0 || v.Run.StdoutBytes != len("job:a\n") {
		t.Fatalf("get job:a: %+v run %+v", v, v.Run)
	}
	if r := e.idem("get", "--output", "job:a").want(t, 0); r.stdout != "job:a\n" {
		t.Fatalf("get --output: %q", r.stdout)
	}
	raw := e.idem("get", "--value", "job:a").want(t, 0).stdout
	res, err := decodeResult([]byte(raw))
	if err != nil || string(res.Stdout) != "job:a\n" || len(raw) != v.ValueSize {
		t.Fatalf("get --value %q: %+v, %v", raw, res, err)
	}

	e.idem("forget", "job:a", "no-such-key").want(t, exitNoRecord)
	e.idem("get", "job:a").want(t, exitNoRecord)
	if got := keysOf(decodeViews(t, e.idem("list").want(t, 0).stdout)); !slices.Equal(got, []string{"job:b", "other"}) {
		t.Fatalf("list after forget: %q", got)
	}
	// A forgotten key runs again.
	e.idem("run", "--key", "job:a", "--", "sh", "-c", "echo job:a; echo x >> effects").want(t, 0)
	if n := len(e.lines("effects")); n != 4 {
		t.Fatalf("%d effects, want 4", n)
	}
}

func TestGetInProgressAndTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	holder := start(t, e.command("run", "--key", "k", "--ttl", "2h", "--lease", "1m", "--", "sh", "-c", crashScript))
	waitFor(t, "the command to start", func() bool { return e.count("effects", "start") == 1 })
	before := time.Now()
	v := decodeViews(t, e.idem("get", "k").want(t, 0).stdout)[0]
	after := time.Now()
	if v.Status != "in_progress" || v.LeaseUntil == nil || v.Run != nil || v.ValueSize != 0 {
		t.Fatalf("in progress: %+v", v)
	}
	// Claimed (or renewed) for a minute before the get returned.
	if !v.LeaseUntil.After(before) || v.LeaseUntil.After(after.Add(time.Minute)) {
		t.Errorf("lease until %v, want within a minute of %v..%v", v.LeaseUntil, before, after)
	}
	touch(t, e, "go")
	holder.wait().want(t, 0)
	v = decodeViews(t, e.idem("get", "k").want(t, 0).stdout)[0]
	if v.Status != "completed" || v.ExpiresAt == nil || v.ExpiresAt.Before(before.Add(time.Hour)) || v.ExpiresAt.After(time.Now().Add(2*time.Hour)) {
		t.Fatalf("completed with a 2h TTL: %+v", v)
	}
}

func TestKeyCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := strings.TrimSpace(e.idem("key", "--", "sh", "-c", effect).want(t, 0).stdout)
	if !strings.HasPrefix(key, defaultRunName+":") {
		t.Fatalf("key %q", key)
	}
	e.idem("run", "--", "sh", "-c", effect).want(t, 0)
	e.idem("get", key).want(t, 0)
	named := strings.TrimSpace(e.idem("key", "--name", "nightly", "--", "sh", "-c", effect).want(t, 0).stdout)
	if !strings.HasPrefix(named, "nightly:") || strings.TrimPrefix(named, "nightly:") != strings.TrimPrefix(key, defaultRunName+":") {
		t.Fatalf("named key %q, derived %q", named, key)
	}
}

func TestSweepExpired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.idem("run", "--key", "short", "--ttl", "2s", "--lease", "1s", "--", "true").want(t, 0)
	e.idem("run", "--key", "long", "--", "true").want(t, 0)
	waitFor(t, "the short record to expire", func() bool { return e.idem("get", "short").code == exitNoRecord })
	if r := e.idem("sweep").want(t, 0); strings.TrimSpace(r.stdout) != `{"removed":1}` {
		t.Fatalf("sweep: %q", r.stdout)
	}
	if r := e.idem("sweep").want(t, 0); strings.TrimSpace(r.stdout) != `{"removed":0}` {
		t.Fatalf("second sweep: %q", r.stdout)
	}
	e.idem("get", "long").want(t, 0)
}

func TestOddKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct{ name, key string }{
		{"slashes", "a/b"},
		{"underscore", "a_b"},
		{"dots", "../../etc/passwd"},
		{"newline", "line\nbreak"},
		{"invalid UTF-8", "\xff\xfe"},
		{"long", strings.Repeat("k", 4096)},
	}
	for _, tt := range tests {
		e.idem("run", "--key", tt.key, "--", "sh", "-c", "echo "+tt.name).want(t, 0)
	}
	for _, tt := range tests {
		r := e.idem("get", "--output", tt.key).want(t, 0)
		if r.stdout != tt.name+"\n" {
			t.Errorf("%s: output %q", tt.name, r.stdout)
		}
	}
	for _, v := range decodeViews(t, e.idem("list").want(t, 0).stdout) {
		if v.Key == "\ufffd\ufffd" && v.KeyBase64 != "//4=" {
			t.Errorf("invalid UTF-8 key listed as %+v", v)
		}
	}
	e.idem("run", "--key", strings.Repeat("k", 4097), "--", "true").want(t, exitDataErr)
}
