package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var metricsRE = regexp.MustCompile(`metrics on (http://\S+)/metrics`)

// TestProxyMetrics: --metrics-listen serves Prometheus metrics whose
// counters move for a first request, a replay, a 409 and a 422, serves
// /healthz, and -v logs one access line per request.
func TestProxyMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t)
	p, url := startProxy(t, e, b, "--shared-keys", "--metrics-listen", "127.0.0.1:0", "-v")
	m := metricsRE.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no metrics address in %q", p.stderr.String())
	}
	base := m[1]

	if r := post(t, url+"/pay", `"a"`, "1 EUR"); r.status != http.StatusCreated {
		t.Fatalf("first: %+v", r)
	}
	if r := post(t, url+"/pay", `"a"`, "1 EUR"); r.replayed != "true" {
		t.Fatalf("replay: %+v", r)
	}
	if r := post(t, url+"/pay", `"a"`, "2 EUR"); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("reuse: %+v", r)
	}
	first := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url+"/slow", strings.NewReader("x"))
		req.Header.Set("Idempotency-Key", `"s"`)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- reply{body: err.Error()}
			return
		}
		resp.Body.Close()
		first <- reply{status: resp.StatusCode}
	}()
	b.waitArrived(t)
	if r := post(t, url+"/slow", `"s"`, "x"); r.status != http.StatusConflict {
		t.Fatalf("in flight: %+v", r)
	}
	close(b.block)
	select {
	case r := <-first:
		if r.status != http.StatusCreated {
			t.Fatalf("slow first: %+v", r)
		}
	case <-time.After(cmdTimeout):
		t.Fatal("no response to the slow request")
	}

	calls := scrape(t, base+"/metrics")
	want := map[string]int{"executed": 2, "replayed": 1, "key_reused": 1, "conflict": 1}
	for outcome, n := range want {
		if calls[outcome] != n {
			t.Errorf("idempotency_calls_total{idempotency_outcome=%q} = %d, want %d (all: %v)", outcome, calls[outcome], n, calls)
		}
	}
	if len(calls) != len(want) {
		t.Errorf("outcomes %v, want %v", calls, want)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("/healthz: %d %q", resp.StatusCode, body)
	}
	p.signal(syscall.SIGTERM)
	p.wait().want(t, 0)
	if n := strings.Count(p.stderr.String(), `msg="idem: proxy" method=POST`); n != 5 {
		t.Errorf("%d access log lines, want 5:\n%s", n, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "status=409") || !strings.Contains(p.stderr.String(), "replayed=true") {
		t.Errorf("access log lacks the 409 or the replay:\n%s", p.stderr.String())
	}
}

var callsRE = regexp.MustCompile(`(?m)^idempotency_calls_total\{([^}]*)\} (\d+)`)
var outcomeRE = regexp.MustCompile(`idempotency_outcome="([^"]*)"`)

// scrape reads idempotency_calls_total from a Prometheus endpoint, by
// outcome.
func scrape(t *testing.T, url string) map[string]int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	if testing.Verbose() {
		t.Logf("%s", body)
	}
	out := map[string]int{}
	for _, m := range callsRE.FindAllStringSubmatch(string(body), -1) {
		o := outcomeRE.FindStringSubmatch(m[1])
		n, _ := strconv.Atoi(m[2])
		if o != nil {
			out[o[1]] += n
		}
	}
	if len(out) == 0 {
		t.Fatalf("no idempotency_calls_total in:\n%s", body)
	}
	return out
}
