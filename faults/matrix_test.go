package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
	"github.com/idempotency-go/idempotency/internal/testchild"
	"github.com/idempotency-go/idempotency/internal/testserver"
)

var (
	flagCalls = flag.Int("faults.calls", 0, "calls per cell (default 48 with -short, 400 without)")
	flagStore = flag.String("faults.store", "", "run only the cells of these stores (comma-separated: memory,file,redis,cluster,pg,pgtx)")
	flagFault = flag.String("faults.fault", "", "run only the cells of these faults (comma-separated: kill,stop,restart,failover,proxy,cancel,panic,clock)")
	flagTrace = flag.Bool("faults.trace", false, "log the history of every key that saw an ambiguous call or has no outcome")
	flagViz   = flag.String("faults.viz", "", "write porcupine's visualization of every non-linearizable key to this directory")
	flagSeed  = flag.Uint64("faults.seed", 0, "random seed of the fault decisions (default: from the clock; printed)")
)

// childEnv holds a worker's spec (JSON) in a child process.
const childEnv = "FAULTS_WORKER_SPEC"

func TestMain(m *testing.M) { testchild.Main(m, childEnv, runChild) }

// runChild is a worker process: it opens the store, calls its keys and
// exits 0, unless it is killed first.
func runChild(js string) int {
	var sp spec
	if err := json.Unmarshal([]byte(js), &sp); err != nil {
		fmt.Fprintln(os.Stderr, "faults worker:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	store, closeStore, err := openStore(ctx, sp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults worker: open store:", err)
		return 1
	}
	defer closeStore()
	w, err := newWorker(sp, store, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults worker:", err)
		return 1
	}
	defer w.close()
	if err := w.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "faults worker:", err)
		return 1
	}
	return 0
}

// The matrix: the faults that apply to each store.
var (
	stores = []string{"memory", "file", "redis", "cluster", "pg", "pgtx"}
	cells  = map[string][]string{
		// In one process: no process to kill or stop, no server, no network.
		"memory": {"cancel", "panic", "clock"},
		// No server and no network; leases are judged on the host clock,
		// which the clock cell steps for every process at once.
		"file": {"kill", "stop", "cancel", "panic", "clock"},
		// Leases are judged on the server's clock: no client clock to jump.
		"redis": {"kill", "stop", "restart", "proxy", "cancel", "panic"},
		// failover: a replica promoted by CLUSTER FAILOVER (manual, so
		// no acknowledged write is lost).
		"cluster": {"kill", "stop", "restart", "failover", "proxy", "cancel", "panic"},
		"pg":      {"kill", "stop", "restart", "proxy", "cancel", "panic"},
		"pgtx":    {"kill", "stop", "restart", "proxy", "cancel", "panic"},
	}
	// strictCells run again with NoTakeover: a claim whose executor
	// died or stalled is never run again (ErrAbandoned).
	strictCells = map[string][]string{
		"file":  {"kill", "stop"},
		"redis": {"kill", "stop"},
		"pg":    {"kill", "stop"},
	}
	// rememberCells run again with OnFailure Remember: a panic is
	// recorded as the key's outcome and replayed as ErrFailed.
	rememberCells = map[string][]string{
		"memory": {"panic"}, "file": {"panic"}, "redis": {"panic"},
		"cluster": {"panic"}, "pg": {"panic"}, "pgtx": {"panic"},
	}
	// controls are the negative control: cells run against a broken
	// store, each of which must report violations.
	controls = []cellID{
		{store: "memory", fault: "cancel", broken: brokenClaim},
		{store: "file", fault: "stop", broken: brokenFence},
		{store: "redis", fault: "stop", broken: brokenFence},
	}
	// knownFailures are cells that find a bug not fixed yet: cell name ->
	// the bug. Their violations are reported and the cell is skipped.
	knownFailures = map[string]string{}
)

// cellID names a cell: a store, a fault, and optionally the guard's
// NoTakeover (strict) or a broken store wrapper (negative control).
type cellID struct {
	store, fault, broken string
	strict, remember     bool
}

func (c cellID) name() string {
	switch {
	case c.broken != "":
		return c.store + "+" + c.broken
	case c.strict:
		return c.store + "+notakeover"
	case c.remember:
		return c.store + "+remember"
	}
	return c.store
}

// cellResult is one line of the matrix output.
type cellResult struct {
	cellID
	calls, faults, effects, completed int
	violations                        []string
}

func (r cellResult) String() string {
	return fmt.Sprintf("store=%s fault=%s calls=%d faults=%d effects=%d/%d violations=%d",
		r.name(), r.fault, r.calls, r.faults, r.effects, r.completed, len(r.violations))
}

func selected(list, name string) bool {
	return list == "" || slices.Contains(strings.Split(list, ","), name)
}

// TestMatrix runs every selected cell of the fault matrix, then the
// negative control, and prints one line per cell and a total.
func TestMatrix(t *testing.T) {
	calls := *flagCalls
	if calls <= 0 {
		calls = 400
		if testing.Short() {
			calls = 48
		}
	}
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	var run, ctl []cellID
	for _, s := range stores {
		for _, f := range cells[s] {
			if selected(*flagStore, s) && selected(*flagFault, f) {
				run = append(run, cellID{store: s, fault: f})
			}
		}
		for _, f := range strictCells[s] {
			if selected(*flagStore, s) && selected(*flagFault, f) {
				run = append(run, cellID{store: s, fault: f, strict: true})
			}
		}
		for _, f := range rememberCells[s] {
			if selected(*flagStore, s) && selected(*flagFault, f) {
				run = append(run, cellID{store: s, fault: f, remember: true})
			}
		}
	}
	for _, c := range controls {
		if selected(*flagStore, c.store) && selected(*flagFault, c.fault) {
			ctl = append(ctl, c)
		}
	}
	if len(run)+len(ctl) == 0 {
		t.Fatalf("no cell matches -faults.store=%q -faults.fault=%q", *flagStore, *flagFault)
	}
	fmt.Printf("faults: seed=%d calls per cell=%d\n", seed, calls)
	// Servers start here, in the test's goroutine, once for every cell.
	srv := &servers{t: t}
	for _, c := range append(slices.Clone(run), ctl...) {
		switch c.store {
		case "redis":
			srv.redisServer()
		case "cluster":
			srv.clusterNodes()
		case "pg", "pgtx":
			srv.postgres()
		}
	}
	var total cellResult
	cellN := 0
	do := func(c cellID) cellResult {
		cellN++
		var r cellResult
		t.Run(c.name()+"/"+c.fault, func(t *testing.T) {
			r = runCell(t, srv, c, calls, seed+uint64(cellN)*1000, cellN)
			fmt.Println(r)
		})
		return r
	}
	for _, c := range run {
		r := do(c)
		total.calls += r.calls
		total.faults += r.faults
		total.effects += r.effects
		total.completed += r.completed
		total.violations = append(total.violations, r.violations...)
	}
	fmt.Printf("total cells=%d calls=%d faults=%d effects=%d/%d violations=%d\n",
		len(run), total.calls, total.faults, total.effects, total.completed, len(total.violations))
	for _, c := range ctl {
		do(c)
	}
}

// Timing of a cell. The lease is short so that takeovers happen within
// the cell; nothing depends on it beyond how often they do.
const (
	cellLease   = 300 * time.Millisecond
	cellWorkers = 4
	cellTimeout = 3 * time.Minute
)

// runCell runs one cell: workers call the same keys in the same order
// while the cell's fault is injected, then the history is checked.
func runCell(t *testing.T, srv *servers, c cellID, calls int, seed uint64, n int) cellResult {
	ctx, cancel := context.WithTimeout(context.Background(), cellTimeout)
	defer cancel()
	dir := t.TempDir()
	res := cellResult{cellID: c}
	rng := rand.New(rand.NewPCG(seed, 1))

	nkeys := max(1, calls/cellWorkers)
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%04d", i)
	}
	sp := spec{
		Store: c.store, Broken: c.broken, NoTakeover: c.strict, Remember: c.remember,
		Prefix:  fmt.Sprintf("faults_%d_%d", n, seed%1000000),
		Effects: filepath.Join(dir, "effects"),
		Lease:   cellLease, Pre: 2 * time.Millisecond, Hold: 5 * time.Millisecond, Jitter: 2 * time.Millisecond,
	}
	if c.store == "redis" || c.store == "cluster" {
		sp.Prefix += ":"
	}
	proxied := srv.setUp(ctx, t, &sp)
	var proxies []*testserver.Proxy
	budget, prob := 0, 0.0
	switch c.fault {
	case "kill", "stop", "restart", "failover":
		sp.Report, sp.Hold = true, 30*time.Millisecond
		if c.fault == "stop" {
			sp.TakeoverHold = 2 * cellLease
		}
		budget, prob = max(3, calls/16), 0.35
		if c.fault != "kill" {
			budget = max(2, calls/40) // each costs a lease or a server start
		}
	case "cancel":
		sp.Cancel = 0.3
	case "panic":
		sp.Panic = 0.2
	case "clock":
		// Steps of the host clock, seen by every process: forward past
		// the lease (running claims look lapsed), back, forward again.
		// Processes take a while to start; calls slow down so that the
		// steps fall while keys are running.
		sp.Pre, sp.Hold, sp.Jitter = 5*time.Millisecond, 60*time.Millisecond, 40*time.Millisecond
		base := time.Now().Add(250 * time.Millisecond)
		if c.store == "memory" {
			base = time.Now().Add(30 * time.Millisecond)
		}
		for i, by := range []time.Duration{3 * cellLease, -cellLease, 3 * cellLease} {
			sp.Jumps = append(sp.Jumps, jump{At: base.Add(time.Duration(150*i) * time.Millisecond).UnixNano(), By: by})
		}
	case "proxy":
		sp.Dial = map[string]string{}
		for i, a := range proxied {
			p := testserver.StartProxy(t, a)
			p.SetFaults(testserver.Faults{Delay: 0.05, MaxDelay: 50 * time.Millisecond, DropReply: 0.04, Cut: 0.04}, seed+uint64(i))
			proxies = append(proxies, p)
			sp.Dial[a] = p.Addr()
		}
	}
	var store idempotency.Store // unbroken, for the final reads
	var parent *worker
	if c.store == "memory" {
		mem := newMemStore(sp)
		defer mem.Close()
		store = mem
		broken := wrapBroken(c.broken, store)
		var wg sync.WaitGroup
		for i := range cellWorkers {
			ws := sp
			ws.Worker, ws.Keys, ws.Seed = fmt.Sprintf("w%d", i), keys, seed+uint64(i)
			ws.History = filepath.Join(dir, "h-"+ws.Worker)
			w, err := newWorker(ws, broken, nil)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer w.close()
				if err := w.run(ctx); err != nil {
					t.Errorf("worker %s: %v", ws.Worker, err)
				}
			}()
		}
		wg.Wait()
	} else {
		// The parent's own calls (a takeover while a worker is stopped)
		// and the final reads go straight to the store, past the proxies;
		// the final reads past a broken wrapper too.
		ps := sp
		ps.Dial, ps.Jumps = nil, nil
		ps.Worker, ps.History, ps.Report = "p", filepath.Join(dir, "h-p"), false
		truth := ps
		truth.Broken = ""
		var closeStore func()
		var err error
		if store, closeStore, err = openStore(ctx, truth); err != nil {
			t.Fatal(err)
		}
		defer closeStore()
		broken, closeBroken, err := openStore(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		defer closeBroken()
		if parent, err = newWorker(ps, broken, nil); err != nil {
			t.Fatal(err)
		}
		defer parent.close()
		cr := &cellRun{t: t, srv: srv, id: c, sp: sp, keys: keys, dir: dir, seed: seed, rng: rng, parent: parent}
		res.faults += cr.runProcs(ctx, budget, prob)
	}
	for _, p := range proxies {
		p.Close()
		res.faults += int(p.FaultCounts().Total())
	}
	for _, j := range sp.Jumps {
		if j.At <= time.Now().UnixNano() {
			res.faults++
		}
	}

	paths, _ := filepath.Glob(filepath.Join(dir, "h-*"))
	ops, err := ReadHistory(paths...)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op.Fault != "" {
			res.faults++
		}
	}
	fin, err := finals(ctx, store, keys)
	if err != nil {
		t.Fatal(err)
	}
	effects, err := readEffects(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("calls by ending: %s", endings(ops))
	if *flagTrace {
		trace(t, append(ops, fin...), effects)
	}
	r := Check(append(ops, fin...), effects, CheckOptions{ExactlyOnce: c.store == "pgtx", AtMostOnce: c.strict, VisualizeDir: *flagViz})
	res.calls, res.effects, res.completed, res.violations = r.Calls, r.Effects, r.Completed, r.Violations
	if res.completed == 0 {
		t.Errorf("no key completed: the cell exercised nothing")
	}
	name := c.name() + "/" + c.fault
	switch {
	case c.broken != "":
		if len(res.violations) > 0 {
			t.Logf("negative control, first violation: %s", res.violations[0])
		}
		if len(res.violations) == 0 {
			t.Errorf("negative control %s: no violation found in a store broken on purpose (%d calls): the checks cannot fail", name, res.calls)
		}
	case len(res.violations) > 0:
		for i, v := range res.violations {
			if i == 5 {
				t.Logf("... and %d more", len(res.violations)-5)
				break
			}
			t.Logf("violation: %s", v)
		}
		if bug, ok := knownFailures[name]; ok {
			t.Skipf("known failure (%s): %d violations", bug, len(res.violations))
		}
		t.Errorf("%s: %d violations (seed %d)", name, len(res.violations), seed)
	}
	return res
}

// proc is a worker process.
type proc struct {
	id     string
	keys   []string
	cmd    *exec.Cmd
	stderr bytes.Buffer
	killed bool
}

type event struct {
	p    *proc
	line string // "F key id": fn performed its effect
	exit bool
	err  error
}

// cellRun is a cell whose workers are processes.
type cellRun struct {
	t      *testing.T
	srv    *servers
	id     cellID
	sp     spec // the workers' spec, but for their name, keys and history
	keys   []string
	dir    string // history files
	seed   uint64
	rng    *rand.Rand // fault decisions
	parent *worker    // the parent's own calls
}

// runProcs runs the worker processes of a cell and injects its process
// and server faults when fn reports an effect: SIGKILL (and a new process
// that retries from the same key), SIGSTOP past the lease while the parent
// takes the key over, or a server crash and restart. It injects up to
// budget faults: at the first effect, then at each with probability prob.
// It returns the number of faults injected.
func (r *cellRun) runProcs(ctx context.Context, budget int, prob float64) int {
	t, c, sp, rng := r.t, r.id, r.sp, r.rng
	events := make(chan event, 64)
	var all []*proc
	started := 0
	start := func(keys []string) {
		started++
		p := &proc{id: fmt.Sprintf("w%d", started), keys: keys}
		ws := sp
		ws.Worker, ws.Keys, ws.Seed = p.id, keys, r.seed+uint64(started)
		ws.History = filepath.Join(r.dir, "h-"+p.id)
		js, err := json.Marshal(ws)
		if err != nil {
			t.Fatal(err)
		}
		p.cmd = testchild.Command("", childEnv+"="+string(js))
		p.cmd.Stderr = &p.stderr
		out, err := p.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		all = append(all, p)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				events <- event{p: p, line: sc.Text()}
			}
			events <- event{p: p, exit: true, err: p.cmd.Wait()}
		}()
	}
	defer func() {
		for _, p := range all {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Signal(syscall.SIGCONT)
				_ = p.cmd.Process.Kill()
			}
		}
	}()
	for range cellWorkers {
		start(r.keys)
	}
	running, faults := cellWorkers, 0
	var pending []event // events that came during a stall
	for running > 0 {
		var ev event
		if len(pending) > 0 {
			ev, pending = pending[0], pending[1:]
		} else {
			select {
			case ev = <-events:
			case <-ctx.Done():
				t.Fatalf("cell did not finish within %v", cellTimeout)
			}
		}
		if ev.exit {
			running--
			if ev.err != nil && !ev.p.killed {
				t.Errorf("worker %s: %v\n%s", ev.p.id, ev.err, ev.p.stderr.String())
			}
			continue
		}
		f := strings.Fields(ev.line)
		if len(f) != 3 || f[0] != "F" {
			t.Errorf("worker %s printed %q", ev.p.id, ev.line)
			continue
		}
		// The first effect always gets the fault, so that every cell has
		// one; later ones by chance, spread over the run. The negative
		// control spends its whole budget at once.
		if budget == 0 || (faults > 0 && c.broken == "" && rng.Float64() >= prob) {
			continue
		}
		key := f[1]
		switch c.fault {
		case "kill":
			ev.p.killed = true
			if ev.p.cmd.Process.Kill() != nil {
				continue // it ended meanwhile
			}
			// A client retries the call that died, in a new process.
			start(ev.p.keys[slices.Index(ev.p.keys, key):])
			running++
		case "stop":
			ok, more := r.stall(ctx, ev.p, key, faults+1, events)
			pending = append(pending, more...)
			if !ok {
				continue
			}
		case "restart":
			r.srv.restart(t, c.store, rng.IntN(3))
		case "failover":
			r.srv.failover(t, rng.IntN(3))
		}
		budget--
		faults++
	}
	return faults
}

// stall stops process p while its fn runs on key and calls key from the
// parent meanwhile, so that someone (the parent or a worker) takes the
// lapsed claim over and runs fn too. Then p goes on: on odd stalls as soon
// as the new owner performed its effect, while its fn still runs (p's
// writes must be refused by their token), on even ones once the parent's
// call ended and the key is settled (p's writes refused because it is).
// Under DoTx there is no takeover: the parent's call waits on the row
// lock until p commits. Under NoTakeover the parent gets ErrAbandoned.
// stall reports false when p had ended already, and returns the events
// it read from events meanwhile.
func (r *cellRun) stall(ctx context.Context, p *proc, key string, n int, events <-chan event) (bool, []event) {
	t, parent := r.t, r.parent
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return false, nil
	}
	var pending []event
	// wait waits for ch, or a worker's effect on key when took is set,
	// up to d; it reports false on timeout.
	wait := func(ch <-chan struct{}, took bool, d time.Duration) bool {
		timer := time.NewTimer(d)
		defer timer.Stop()
		for {
			select {
			case <-ch:
				return true
			case ev := <-events:
				pending = append(pending, ev)
				if f := strings.Fields(ev.line); took && len(f) == 3 && f[1] == key && ev.p != p {
					return true
				}
			case <-timer.C:
				return false
			}
		}
	}
	effect := make(signal, 1)
	parent.report, parent.spec.Report = effect, true
	parent.spec.Hold = 5 * time.Millisecond
	if n%2 == 1 {
		parent.spec.Hold = 2 * cellLease
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := parent.one(ctx, key, fmt.Sprintf("p%d.%s", n, key)); err != nil {
			t.Errorf("the parent's call on %s: %v", key, err)
		}
	}()
	switch {
	case r.id.store == "pgtx":
		wait(nil, false, 3*cellLease)
	case n%2 == 1:
		// The parent's effect, a worker's, or the parent's call ended
		// (a worker took over and recorded, or NoTakeover).
		effectOrEnd := make(chan struct{})
		go func() {
			select {
			case <-effect:
			case <-done:
			}
			close(effectOrEnd)
		}()
		if !wait(effectOrEnd, true, 20*time.Second) {
			t.Errorf("nobody took %s over from the stalled %s within 20s", key, p.id)
		}
	default:
		if !wait(done, false, 20*time.Second) {
			t.Errorf("the parent's call on %s did not end within 20s", key)
		}
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if !wait(done, false, 30*time.Second) {
		t.Fatalf("the parent's call on %s did not end within 30s of SIGCONT", key)
	}
	return true, pending
}

// signal is a writer that signals each write on a channel, dropping
// signals nobody waits for.
type signal chan struct{}

func (s signal) Write(b []byte) (int, error) {
	select {
	case s <- struct{}{}:
	default:
	}
	return len(b), nil
}

// endings counts calls by how they ended, for the log of a cell.
func endings(ops []Op) string {
	n := map[string]int{}
	for _, op := range ops {
		k := string(op.Kind)
		if op.Kind == KindValue {
			k = "replayed"
			if op.Value == op.ID {
				k = "executed"
			}
		}
		n[k]++
	}
	var parts []string
	for _, k := range []string{"executed", "replayed", "failed", "ambiguous", "empty", "none", "bad"} {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n[k]))
	}
	// The first store error, if any: what the retried calls met.
	for _, op := range ops {
		if op.Kind == KindNone {
			parts = append(parts, "first store error: "+op.Err)
			break
		}
	}
	return strings.Join(parts, " ")
}

// trace logs the calls and effects of every key that saw an ambiguous
// call or has no outcome at the end (-faults.trace).
func trace(t *testing.T, ops []Op, effects []Effect) {
	byKey := map[string][]Op{}
	odd := map[string]bool{}
	for _, op := range ops {
		byKey[op.Key] = append(byKey[op.Key], op)
		odd[op.Key] = odd[op.Key] || op.Kind == KindAmbiguous || op.Kind == KindFinal && op.Value == ""
	}
	effectsOf := map[string][]Effect{}
	for _, e := range effects {
		effectsOf[e.Key] = append(effectsOf[e.Key], e)
	}
	for k, kops := range byKey {
		if odd[k] {
			t.Logf("key %s:\n%s", k, excerpt(kops, effectsOf[k]))
		}
	}
}
