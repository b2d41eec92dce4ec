package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Run limits.
const (
	// ConvergeMax is how soon after the last heal every node's state hash
	// must be equal; a run that takes longer counts as divergent.
	ConvergeMax = 10 * time.Second
	// convergeMeasureMax is how long after the heal convergence is still
	// awaited, so a run slower than ConvergeMax reports its real figure.
	convergeMeasureMax = 30 * time.Second
	// readBatchKeys is how many keys one MGET of the final read carries.
	readBatchKeys = 512
	// sessionsPerHost is how many client sessions stick to each host.
	sessionsPerHost = 1
)

// runConfig describes one run: a fresh cluster, a workload, faults.
type runConfig struct {
	Run      int
	Seed     uint64
	Hosts    int
	Duration time.Duration // workload time; faults start inside it
	Every    time.Duration // a fault starts every Every (after the previous one healed)
	Hold     time.Duration // how long a network fault holds
	// PauseMin and PauseMax bound SIGSTOP pauses.
	PauseMin, PauseMax time.Duration
	// Kinds are the faults in order; past its end (or when empty) they
	// are drawn from the seed.
	Kinds []faultKind
}

// runResult is one run's summary line and report.
type runResult struct {
	cfg       runConfig
	schedule  []string
	rep       report
	converge  time.Duration
	converged bool
}

func (res runResult) line() string {
	conv := res.converge.Round(10 * time.Millisecond).String()
	if !res.converged {
		conv = ">" + convergeMeasureMax.String()
	}
	return fmt.Sprintf("run=%d seed=%d faults=%s ops=%d acked=%d maybe=%d failed=%d collapsed=%d orphaned=%d lost=%d phantom=%d atomicity=%d session=%d unavailable=%d divergent=%d bcounter=%d converge=%s",
		res.cfg.Run, res.cfg.Seed, strings.Join(res.schedule, ","), res.rep.Ops, res.rep.Acked, res.rep.Maybe, res.rep.Failed,
		res.rep.Collapsed, res.rep.Orphaned, res.rep.Lost, res.rep.Phantom, res.rep.Atomicity, res.rep.Session,
		res.rep.Unavailable, res.rep.Divergent, res.rep.BCounter, conv)
}

// runner drives one run.
type runner struct {
	t   *testing.T
	cfg runConfig
	rng *rand.Rand
	c   *cluster
	env *env
	dir string

	nextSession int
	sessions    map[int][]*session
	stops       map[int]chan struct{}
	wgs         map[int]*sync.WaitGroup
	finished    []*session

	down        []window
	faults      []window
	removed     map[string]bool
	rep         report // problems found by faults (collapsed writes after kill)
	killChecked int
}

// quietLogger drops go-redis's own log lines (dial retries to a killed
// node are expected here; outcomes are recorded in the history).
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// chaosMode returns SPOOK_CHAOS or skips the test with how to run it.
func chaosMode(t *testing.T, want string) {
	t.Helper()
	if os.Getenv("SPOOK_CHAOS") != want {
		t.Skipf("fault tests with real processes in network namespaces: run with SPOOK_CHAOS=%s (make chaos-quick / make chaos)", want)
	}
	if err := netnsAvailable(); err != nil {
		t.Skip(err)
	}
	redis.SetLogger(quietLogger{})
	if removed := sweepStale(); len(removed) > 0 {
		t.Logf("swept stale namespaces and links: %s", strings.Join(removed, " "))
	}
}

// envUint reads a non-negative integer from the environment, or def.
func envUint(name string, def uint64) uint64 {
	if v, err := strconv.ParseUint(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// baseSeed is SPOOK_CHAOS_SEED or one from the clock (printed per run).
func baseSeed() uint64 {
	return envUint("SPOOK_CHAOS_SEED", uint64(time.Now().UnixNano()%1_000_000_007))
}

// quickScenarios is the chaos-quick set: every fault kind at least once,
// four per run, then one run drawn from the seed.
var quickScenarios = [][]faultKind{
	{faultIsolate, faultSplit, faultOneWay, faultBridge},
	{faultBridge, faultRing, faultPause, faultIsolate},
	{faultKill, faultClock, faultIsolate, faultPause},
	{faultRemove, faultSplit, faultKill, faultRing},
	{faultPause, faultOneWay, faultClock, faultRemove},
	nil,
}

// TestChaosQuick is `make chaos-quick`: six 5-node runs of 30 s with a
// fault every 6 s, about four minutes in all. SPOOK_CHAOS=quick enables it;
// SPOOK_CHAOS_SEED fixes the seeds.
func TestChaosQuick(t *testing.T) {
	chaosMode(t, "quick")
	seed := baseSeed()
	var cfgs []runConfig
	for i, kinds := range quickScenarios {
		cfgs = append(cfgs, runConfig{Run: i + 1, Seed: seed + uint64(i), Hosts: 5,
			Duration: 30 * time.Second, Every: 6 * time.Second, Hold: 3 * time.Second,
			PauseMin: 2 * time.Second, PauseMax: 4 * time.Second, Kinds: kinds})
	}
	runAll(t, cfgs)
}

// TestChaos is `make chaos`: SPOOK_CHAOS_RUNS runs (default 20) of
// SPOOK_CHAOS_SECONDS (default 60) with a fault every 10 s drawn from the
// seed (or SPOOK_CHAOS_FAULTS, a comma-separated list, repeated).
// SPOOK_CHAOS=full enables it.
func TestChaos(t *testing.T) {
	chaosMode(t, "full")
	seed := baseSeed()
	runs := int(envUint("SPOOK_CHAOS_RUNS", 20))
	seconds := envUint("SPOOK_CHAOS_SECONDS", 60)
	var kinds []faultKind
	if s := os.Getenv("SPOOK_CHAOS_FAULTS"); s != "" {
		var err error
		if kinds, err = parseFaults(s); err != nil {
			t.Fatal(err)
		}
	}
	var cfgs []runConfig
	for i := 0; i < runs; i++ {
		var ks []faultKind
		for len(kinds) > 0 && len(ks) < int(seconds/10)+1 {
			ks = append(ks, kinds...)
		}
		cfgs = append(cfgs, runConfig{Run: i + 1, Seed: seed + uint64(i), Hosts: 5,
			Duration: time.Duration(seconds) * time.Second, Every: 10 * time.Second, Hold: 6 * time.Second,
			PauseMin: 5 * time.Second, PauseMax: 30 * time.Second, Kinds: ks})
	}
	runAll(t, cfgs)
}

// runAll runs each configuration in turn (each in its own subtest, with
// its own network and processes, all removed when it ends) and prints one
// line per run and a final summary line.
func runAll(t *testing.T, cfgs []runConfig) {
	bin := os.Getenv("SPOOK_CHAOS_SPOOKD")
	if bin == "" {
		var err error
		if bin, err = buildSpookd(t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	var runs, lost, divergent, failed int
	for _, cfg := range cfgs {
		t.Run(fmt.Sprintf("run%d", cfg.Run), func(t *testing.T) {
			runs++
			finished := false
			defer func() {
				if !finished { // t.Fatal in runOne: a fault or a read failed
					failed++
					fmt.Printf("run=%d seed=%d aborted: see the test log\n", cfg.Run, cfg.Seed)
				}
			}()
			res := runOne(t, bin, cfg)
			finished = true
			fmt.Println(res.line())
			lost += res.rep.Lost
			divergent += res.rep.Divergent
			if res.rep.failed() {
				failed++
				t.Errorf("run %d (seed %d) failed:\n  %s", cfg.Run, cfg.Seed, strings.Join(res.rep.Problems, "\n  "))
			}
		})
	}
	fmt.Printf("runs=%d lost=%d divergent=%d failed=%d\n", runs, lost, divergent, failed)
}

// runOne runs one configuration and checks it.
func runOne(t *testing.T, bin string, cfg runConfig) runResult {
	res := runResult{cfg: cfg}
	nw, err := newNetwork(cfg.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, err := newCluster(nw, bin, dir)
	if err != nil {
		nw.close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.killAll()
		if err := nw.close(); err != nil {
			t.Logf("network cleanup: %v", err)
		}
	})
	r := &runner{t: t, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)), c: c, dir: dir,
		env:      &env{members: cfg.Hosts, gens: map[int]int{}},
		sessions: map[int][]*session{}, stops: map[int]chan struct{}{}, wgs: map[int]*sync.WaitGroup{},
		removed: map[string]bool{}}

	// Start every node at once: each waits for /readyz.
	errs := make(chan error, cfg.Hosts)
	for i := 1; i <= cfg.Hosts; i++ {
		go func(i int) {
			_, err := c.start(i, startOpts{name: fmt.Sprintf("n%d", i), dataDir: fmt.Sprintf("%s/n%d", dir, i)})
			errs <- err
		}(i)
	}
	for i := 0; i < cfg.Hosts; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	r.env.began = time.Now()
	for i := 1; i <= cfg.Hosts; i++ {
		r.startSessions(i, fmt.Sprintf("n%d", i))
	}

	// Faults, one after another, each healed before the next. The last
	// one holds until the workload ends: then the sessions stop, it
	// heals, and convergence is measured from that heal.
	healLast := func() error { return nil }
	for i := 0; ; i++ {
		slot := cfg.Every * time.Duration(i+1)
		if slot+cfg.Hold > cfg.Duration {
			break
		}
		if wait := slot - r.env.since(); wait > 0 {
			time.Sleep(wait)
		}
		if r.env.since()+cfg.Hold > cfg.Duration {
			break
		}
		kind := allFaults[r.rng.IntN(len(allFaults))]
		if i < len(cfg.Kinds) && cfg.Kinds[i] != 0 {
			kind = cfg.Kinds[i]
		}
		at := r.env.since()
		desc, heal, err := r.inject(kind)
		res.schedule = append(res.schedule, fmt.Sprintf("%s@%.1fs", desc, at.Seconds()))
		if err != nil {
			r.stopAll()
			r.logAll()
			t.Fatalf("fault %s: %v", desc, err)
		}
		if next := cfg.Every * time.Duration(i+2); next+cfg.Hold > cfg.Duration {
			healLast = heal
			break
		}
		time.Sleep(cfg.Hold)
		if err := heal(); err != nil {
			r.stopAll()
			t.Fatalf("heal %s: %v", desc, err)
		}
	}
	if wait := cfg.Duration - r.env.since(); wait > 0 {
		time.Sleep(wait)
	}
	r.stopAll()
	if err := healLast(); err != nil {
		t.Fatal(err)
	}
	if err := nw.heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()

	res.converge, res.converged = r.converge(healed)
	if !res.converged {
		r.logStatus()
		r.dumpGoroutines()
	}
	finals := r.readFinal()
	var history []op
	for _, s := range r.finished {
		history = append(history, s.ops...)
	}
	sort.Slice(history, func(i, j int) bool { return history[i].Start < history[j].Start })
	hosts := make([]int, cfg.Hosts)
	for i := range hosts {
		hosts[i] = i + 1
	}
	rep := checkHistory(checkInput{History: history, Final: finals, Down: r.down, Removed: r.removed,
		Faults: r.faults, Hosts: hosts, TxnKeys: allTxnKeys()})
	// Fold in what faults and sessions found during the run.
	rep.Lost += r.rep.Lost
	rep.Problems = append(r.rep.Problems, rep.Problems...)
	for _, s := range r.finished {
		rep.Session += s.session
		rep.Atomicity += s.atomic
		rep.BCounter += s.bcounter
		rep.Problems = append(rep.Problems, s.problems...)
	}
	if !res.converged || res.converge > ConvergeMax {
		rep.Divergent = max(rep.Divergent, 1)
		rep.Problems = append(rep.Problems, fmt.Sprintf("state hashes not equal within %v of the heal", ConvergeMax))
	}
	if len(rep.Problems) > maxProblems {
		rep.Problems = rep.Problems[:maxProblems]
	}
	res.rep = rep
	if rep.failed() {
		r.logAll()
	}
	for _, n := range rep.Notes {
		t.Log(n)
	}
	t.Logf("%d writes confirmed collapsed before a kill were checked on the restarted node's own disk", r.killChecked)
	return res
}

// logAll logs the end of every current node's log.
func (r *runner) logAll() {
	for i := 1; i <= r.cfg.Hosts; i++ {
		if p := r.c.proc(i); p != nil {
			r.t.Logf("log of %s (host %d):\n%s", p.name, i, r.c.logTail(p))
		}
	}
}

// startSessions starts sessionsPerHost sessions on host h's node name.
func (r *runner) startSessions(h int, name string) {
	stop := make(chan struct{})
	wg := &sync.WaitGroup{}
	r.stops[h], r.wgs[h] = stop, wg
	r.sessions[h] = nil
	for k := 0; k < sessionsPerHost; k++ {
		r.nextSession++
		s := newSession(r.nextSession, h, name, func() *redis.Client { return r.c.redis(h) }, r.cfg.Seed, r.env)
		r.sessions[h] = append(r.sessions[h], s)
		wg.Add(1)
		go func() { defer wg.Done(); s.run(stop) }()
	}
}

// stopSessions stops host h's sessions and waits for them (each ends
// within one operation: at most a few client timeouts).
func (r *runner) stopSessions(h int) {
	if r.stops[h] == nil {
		return
	}
	close(r.stops[h])
	r.wgs[h].Wait()
	r.finished = append(r.finished, r.sessions[h]...)
	r.stops[h], r.sessions[h] = nil, nil
}

func (r *runner) stopAll() {
	for h := 1; h <= r.cfg.Hosts; h++ {
		r.stopSessions(h)
	}
}

// converge polls every node's status until all state hashes and applied
// vectors are equal, and returns how long that took after healed.
func (r *runner) converge(healed time.Time) (time.Duration, bool) {
	deadline := healed.Add(convergeMeasureMax)
	for time.Now().Before(deadline) {
		if r.equalStatus() {
			return time.Since(healed), true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(healed), false
}

// equalStatus reports whether every node reports the same hash and applied
// vector right now.
func (r *runner) equalStatus() bool {
	hosts := make([]int, r.cfg.Hosts)
	for i := range hosts {
		hosts[i] = i + 1
	}
	return r.equalStatusOf(hosts)
}

// equalStatusOf reports whether the nodes on hosts report the same hash
// and applied vector right now.
func (r *runner) equalStatusOf(hosts []int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	var hash, applied string
	for k, i := range hosts {
		st, err := r.c.status(ctx, i)
		if err != nil {
			return false
		}
		a := fmt.Sprint(st.Applied) // fmt sorts map keys
		if k == 0 {
			hash, applied = st.StateHash, a
		} else if st.StateHash != hash || a != applied {
			return false
		}
	}
	return true
}

// writtenKeys lists, sorted, every register key the sessions wrote and
// every transaction group's keys.
func writtenKeys(sessions []*session) []string {
	keys := map[string]bool{}
	for _, s := range sessions {
		keys[s.ownKey] = true
		for _, o := range s.ops {
			switch o.Kind {
			case opSet, opCollapse:
				keys[o.Key] = true
			case opTxn:
				for _, k := range o.Keys {
					keys[k] = true
				}
			}
		}
	}
	for _, ks := range allTxnKeys() {
		for _, k := range ks {
			keys[k] = true
		}
	}
	list := make([]string, 0, len(keys))
	for k := range keys {
		list = append(list, k)
	}
	sort.Strings(list)
	return list
}

// logStatus logs every node's view, for a run that did not converge.
func (r *runner) logStatus() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*clientTimeout)
	defer cancel()
	for i := 1; i <= r.cfg.Hosts; i++ {
		st, err := r.c.status(ctx, i)
		if err != nil {
			r.t.Logf("host %d: status: %v", i, err)
			continue
		}
		var ms []string
		for _, m := range st.Members {
			ms = append(ms, fmt.Sprintf("%s:%s:%v", m.Name, m.State, m.Applied))
		}
		r.t.Logf("host %d %s hash=%s applied=%v collapsed=%v members=%s events=%v", i, st.Name, st.StateHash, st.Applied, st.Collapsed, strings.Join(ms, " "), st.Events)
	}
}

// dumpGoroutines, when SPOOK_CHAOS_DUMP names a directory, sends SIGQUIT
// to every node (Go prints every goroutine's stack and exits) and copies
// the logs there.
func (r *runner) dumpGoroutines() {
	dir := os.Getenv("SPOOK_CHAOS_DUMP")
	if dir == "" {
		return
	}
	os.MkdirAll(dir, 0o755)
	for i := 1; i <= r.cfg.Hosts; i++ {
		p := r.c.proc(i)
		if p == nil || p.exited() {
			continue
		}
		p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(exitTimeout):
		}
		b, _ := os.ReadFile(p.logFile)
		os.WriteFile(fmt.Sprintf("%s/run%d-%s.log", dir, r.cfg.Run, p.name), b, 0o644)
	}
	r.t.Fatalf("goroutine dumps in %s", dir)
}

// readFinal reads, from every node, every key the history wrote.
func (r *runner) readFinal() []nodeState {
	list := writtenKeys(r.finished)
	var out []nodeState
	for i := 1; i <= r.cfg.Hosts; i++ {
		st, err := r.readState(i, list)
		if err != nil {
			r.t.Fatalf("final read: %v", err)
		}
		out = append(out, st)
	}
	return out
}

// readState reads from host i the given register keys, every counter and
// every set, and the node's state hash.
func (r *runner) readState(i int, keys []string) (nodeState, error) {
	p := r.c.proc(i)
	rdb := r.c.redis(i)
	defer rdb.Close()
	st, err := readNode(context.Background(), rdb, keys)
	st.Node = p.name
	if s, err := r.c.status(context.Background(), i); err == nil {
		st.Hash = s.StateHash
	} else {
		st.Hash = "unreadable: " + err.Error()
	}
	if err != nil {
		return st, fmt.Errorf("%s: %w", p.name, err)
	}
	return st, nil
}

// readNode reads through rdb the given register keys (in batches of
// readBatchKeys), every counter and every set of the workload.
func readNode(ctx context.Context, rdb *redis.Client, keys []string) (nodeState, error) {
	st := nodeState{Values: map[string]string{}, Counters: map[string]int64{}, Sets: map[string]map[string]bool{}}
	for lo := 0; lo < len(keys); lo += readBatchKeys {
		batch := keys[lo:min(lo+readBatchKeys, len(keys))]
		vals, err := rdb.MGet(ctx, batch...).Result()
		if err != nil {
			return st, fmt.Errorf("MGET: %w", err)
		}
		for j, v := range vals {
			if s, ok := v.(string); ok {
				st.Values[batch[j]] = s
			}
		}
	}
	for k := 0; k < counterKeys; k++ {
		key := fmt.Sprintf("ctr:%d", k)
		v, err := rdb.Get(ctx, key).Int64()
		if err != nil && err != redis.Nil {
			return st, fmt.Errorf("GET %s: %w", key, err)
		}
		st.Counters[key] = v
	}
	if v, err := rdb.Do(ctx, "BCOUNTER.GET", bcKey).Int64(); err == nil {
		st.BCounter = v
	} else if err != redis.Nil {
		return st, fmt.Errorf("BCOUNTER.GET %s: %w", bcKey, err)
	}
	for k := 0; k < setKeys; k++ {
		key := fmt.Sprintf("set:%d", k)
		ms, err := rdb.SMembers(ctx, key).Result()
		if err != nil {
			return st, fmt.Errorf("SMEMBERS %s: %w", key, err)
		}
		st.Sets[key] = map[string]bool{}
		for _, m := range ms {
			st.Sets[key][m] = true
		}
	}
	return st, nil
}
