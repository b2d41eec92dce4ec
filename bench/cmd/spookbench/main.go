package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spooksystems/spook/bench"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "helper" {
		var err error
		switch os.Args[2] {
		case "etcd":
			err = bench.RunEtcdHelper(os.Args[3:])
		case "nats":
			err = bench.RunNATSHelper(os.Args[3:])
		default:
			err = fmt.Errorf("unknown helper %q", os.Args[2])
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "spookbench helper:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "load" {
		if err := runLoad(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "spookbench load:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "profile" {
		if err := runProfile(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "spookbench profile:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		bench.KillAll()
		fmt.Fprintln(os.Stderr, "spookbench:", err)
		os.Exit(1)
	}
	bench.KillAll()
}

type options struct {
	quick      bool
	out, chart string
	json       string
	spookd     string
	commit     string
	systems    string
	cell       time.Duration
	runs       int
	loadKeys   int
	samples    int
	bmRequests int
	maxOps     uint64
	profile    time.Duration
}

func run() error {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "short cells (1 s, 1 run), for a run under 5 minutes")
	flag.StringVar(&o.out, "out", "../docs/BENCHMARKS.md", "document to write the tables into (between the bench markers); empty: print only")
	flag.StringVar(&o.chart, "chart", "../docs/bench/throughput.svg", "SVG chart to write; empty: none")
	flag.StringVar(&o.spookd, "spookd", "", "run this spookd binary instead of building ../cmd/spookd (e.g. an older build, to compare)")
	flag.StringVar(&o.commit, "commit", "", "what the JSON record names as measured (default: git HEAD of .., +dirty if changed)")
	flag.StringVar(&o.json, "json", "", "JSON record of the run to write, for scripts/bench-compare (default ../docs/bench/quick.json quick, ../docs/bench/full.json full; \"-\": none)")
	flag.StringVar(&o.systems, "systems", "spook,redis,etcd,nats", "systems to run")
	flag.DurationVar(&o.cell, "cell", 0, "duration of one cell (default 1s quick, 10s full)")
	flag.IntVar(&o.runs, "runs", 0, "runs per cell, the median is reported (default 1 quick, 3 full)")
	flag.IntVar(&o.loadKeys, "load-keys", 1_000_000, "keys loaded for the memory and restart figures (0: skip)")
	flag.IntVar(&o.samples, "samples", 0, "writes timed for lag and all-replica latency (default 200 quick, 2000 full)")
	flag.IntVar(&o.bmRequests, "bm-requests", 0, "redis-benchmark -n (default 50000 quick, 1000000 full)")
	flag.Uint64Var(&o.maxOps, "max-ops", 50_000_000, "operation bound per cell")
	flag.DurationVar(&o.profile, "profile", -1, "CPU-profile in-process Spook under SET for this long (default 3s quick, 10s full; 0: skip)")
	flag.Parse()
	if o.profile < 0 {
		o.profile = pick(o.quick, 3*time.Second, 10*time.Second)
	}
	if o.json == "" {
		o.json = pick(o.quick, "../docs/bench/quick.json", "../docs/bench/full.json")
	}
	if o.cell == 0 {
		o.cell = pick(o.quick, time.Second, 10*time.Second)
	}
	if o.runs == 0 {
		o.runs = pick(o.quick, 1, 3)
	}
	if o.samples == 0 {
		o.samples = pick(o.quick, 200, 2000)
	}
	if o.bmRequests == 0 {
		o.bmRequests = pick(o.quick, 50_000, 1_000_000)
	}
	want := map[string]bool{}
	for _, s := range strings.Split(o.systems, ",") {
		want[strings.TrimSpace(s)] = true
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	started := time.Now()
	tmp, err := os.MkdirTemp("", "spookbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	rep := &bench.Report{
		Command:  "cd bench && go run ./cmd/spookbench " + strings.Join(os.Args[1:], " "),
		Date:     started,
		Machine:  append(machine(), "$ cat /proc/loadavg   # at the start of the run", loadavg()),
		Mode:     fmt.Sprintf("%s mode: %v per cell, %d run(s) per cell (median), %d samples for lag and all-replica", pick(o.quick, "quick", "full"), o.cell, o.runs, o.samples),
		Lag:      map[string]bench.LatStat{},
		All:      map[string]bench.LatStat{},
		RedisBM:  map[string]map[string]float64{},
		Memory:   map[string]bench.MemStat{},
		Restart:  map[string]time.Duration{},
		BytesRow: bench.Cell{Workload: bench.WorkloadSet, Clients: 16, Pipeline: 16},
	}
	note := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		fmt.Println("NOTE:", msg)
		rep.Notes = append(rep.Notes, msg)
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	var systems []bench.System
	unavailable := func(name, peer string, d bench.Durability, why string) {
		note("%s not run: %s", name, why)
		rep.Systems = append(rep.Systems, bench.SystemInfo{Name: name, Peer: peer, Durability: d, Status: "not run: " + why})
	}
	if want["spook"] {
		bin := filepath.Join(tmp, "spookd")
		var out []byte
		var err error
		if o.spookd != "" {
			bin = o.spookd
		} else {
			fmt.Println("building spookd ...")
			out, err = exec.CommandContext(ctx, "go", "build", "-C", "..", "-o", bin, "./cmd/spookd").CombinedOutput()
		}
		if err != nil {
			unavailable("spook/always", "spook", bench.PerWrite, fmt.Sprintf("go build ./cmd/spookd failed: %v %s", err, firstLine(string(out))))
			unavailable("spook/batch", "spook", bench.Default, "as above")
		} else {
			systems = append(systems, &bench.Spook{Bin: bin, Fsync: "always"}, &bench.Spook{Bin: bin, Fsync: "batch"})
		}
	}
	redisBin, redisErr := exec.LookPath("redis-server")
	if want["redis"] {
		if redisErr != nil {
			why := "redis-server not found on PATH; install it with `apt-get install -y redis-server` (Debian/Ubuntu) and run again"
			unavailable("redis/always", "redis", bench.PerWrite, why)
			unavailable("redis/everysec", "redis", bench.Default, why)
		} else {
			systems = append(systems, &bench.Redis{Bin: redisBin, AppendFsync: "always"}, &bench.Redis{Bin: redisBin, AppendFsync: "everysec"})
		}
	}
	if want["etcd"] {
		systems = append(systems, &bench.Etcd{Helper: self})
	}
	if want["nats"] {
		systems = append(systems, &bench.NATS{Helper: self, SyncAlways: true}, &bench.NATS{Helper: self, SyncAlways: false})
	}
	benchBin, bmErr := exec.LookPath("redis-benchmark")
	if bmErr != nil {
		note("redis-benchmark not found on PATH (package redis-tools): its table is skipped")
	}

	workloads := []bench.Workload{bench.WorkloadSet, bench.WorkloadIncr, bench.WorkloadMixed}
	clientCounts := []int{1, 16, 64}
	seed := uint64(1)
	for _, sys := range systems {
		if ctx.Err() != nil {
			break
		}
		info := bench.SystemInfo{Name: sys.Name(), Peer: sys.Peer(), Durability: sys.Durability(), Method: sys.Method(), Status: "ok"}
		fmt.Printf("[%s] starting (%s)\n", sys.Name(), time.Since(started).Round(time.Second))
		if err := sys.Start(ctx); err != nil {
			sys.Stop()
			info.Status = "not run: failed to start: " + firstLine(err.Error())
			note("%s failed to start: %v", sys.Name(), err)
			rep.Systems = append(rep.Systems, info)
			continue
		}
		rep.Systems = append(rep.Systems, info)
		pipelines := []int{1}
		if sys.Pipelined() {
			pipelines = []int{1, 16}
		}
		for _, w := range workloads {
			for _, c := range clientCounts {
				for _, p := range pipelines {
					cell := bench.Cell{Workload: w, Clients: c, Pipeline: p}
					st, err := measureCell(ctx, sys, cell, o, &seed)
					if err != nil {
						note("%s %s: %v", sys.Name(), cell, err)
						continue
					}
					rep.Cells = append(rep.Cells, st)
					fmt.Printf("[%s] %-22s %10.0f ops/s  p50=%v p99=%v p99.9=%v  bytes/op=%.1f errors=%d\n", sys.Name(), cell,
						st.OpsPerSec, st.P50, st.P99, st.P999, st.BytesPerOp, st.Errors)
					if st.Errors > 0 {
						note("%s %s: %d errors, first: %s", sys.Name(), cell, st.Errors, st.FirstErr)
					}
				}
			}
		}
		measureLag(ctx, sys, o, rep, note)
		if rs, ok := sys.(bench.RESPSystem); ok {
			if bmErr == nil {
				res, err := bench.RedisBenchmark(ctx, benchBin, rs.Addr(0), o.bmRequests)
				if err != nil {
					note("%s redis-benchmark: %v", sys.Name(), err)
				} else {
					rep.RedisBM[sys.Name()] = res
					fmt.Printf("[%s] redis-benchmark -P 16 -c 16 -n %d: SET %.0f/s INCR %.0f/s\n", sys.Name(), o.bmRequests, res["SET"], res["INCR"])
				}
			}
			if o.loadKeys > 0 && sys.Durability() == bench.Default {
				measureMemory(ctx, rs, o, rep, note)
			}
		}
		sys.Stop()
		fmt.Printf("[%s] stopped (%s)\n", sys.Name(), time.Since(started).Round(time.Second))
	}
	if ctx.Err() != nil {
		return errors.New("interrupted; nothing written")
	}
	if want["spook"] && o.profile > 0 {
		fmt.Printf("profiling in-process Spook under SET c=16 P=16 for %v ...\n", o.profile)
		summary, err := profileSpook(filepath.Join(tmp, "spook-set.pprof"), o.profile)
		if err != nil {
			note("profile: %v", err)
		} else {
			rep.Profile = summary
			fmt.Println(summary)
		}
	}
	rep.Machine = append(rep.Machine, "$ cat /proc/loadavg   # at the end of the run", loadavg())
	fmt.Printf("done in %s\n", time.Since(started).Round(time.Second))

	md := rep.Markdown()
	if o.out != "" {
		if err := writeDoc(o.out, md); err != nil {
			return err
		}
		fmt.Println("wrote", o.out)
	} else {
		fmt.Println(md)
	}
	if o.chart != "" {
		if err := os.MkdirAll(filepath.Dir(o.chart), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(o.chart, []byte(chart(rep)), 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", o.chart)
	}
	if o.json != "-" {
		if err := os.MkdirAll(filepath.Dir(o.json), 0o755); err != nil {
			return err
		}
		commit := o.commit
		if commit == "" {
			commit = gitCommit()
		}
		if err := bench.WriteRecord(o.json, rep.Record(commit)); err != nil {
			return err
		}
		fmt.Println("wrote", o.json)
	}
	return nil
}

// gitCommit names the tree measured: HEAD of the repository above bench/,
// with "+dirty" if it has uncommitted changes, or "unknown" outside git.
func gitCommit() string {
	head, err := exec.Command("git", "-C", "..", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(head))
	if st, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		commit += "+dirty"
	}
	return commit
}

// runLoad loads keys into a RESP server the way the memory figure does
// (16 connections, 64 pipelined SETs each, keys of bench.KeyBytes, values
// of bench.ValueBytes), for scripts/memory-spookd.sh:
//
//	spookbench load ADDR KEYS
func runLoad(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: spookbench load ADDR KEYS")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return fmt.Errorf("KEYS: %w", err)
	}
	took, err := bench.LoadKeysAt(context.Background(), args[0], n, 16, 64)
	if err != nil {
		return err
	}
	fmt.Printf("%d keys loaded in %v\n", n, took.Round(time.Millisecond))
	return nil
}

// measureCell runs a cell o.runs times and keeps the medians.
func measureCell(ctx context.Context, sys bench.System, cell bench.Cell, o options, seed *uint64) (bench.CellStat, error) {
	var ops, p50, p99, p999, bytesPerOp []float64
	st := bench.CellStat{System: sys.Name(), Cell: cell, BytesPerOp: math.NaN()}
	for r := 0; r < o.runs; r++ {
		*seed++
		res, err := bench.RunCell(ctx, sys, cell, bench.Limits{Duration: o.cell, MaxOps: o.maxOps}, *seed)
		if err != nil {
			return st, err
		}
		ops = append(ops, res.OpsPerSec())
		p50 = append(p50, float64(res.Lat.Quantile(0.50)))
		p99 = append(p99, float64(res.Lat.Quantile(0.99)))
		p999 = append(p999, float64(res.Lat.Quantile(0.999)))
		if res.PeerBytes >= 0 && res.Ops > 0 {
			bytesPerOp = append(bytesPerOp, float64(res.PeerBytes)/float64(res.Ops))
		}
		st.Errors += res.Errors
		if res.FirstErr != nil && st.FirstErr == "" {
			st.FirstErr = firstLine(res.FirstErr.Error())
		}
	}
	st.OpsPerSec = median(ops)
	st.P50, st.P99, st.P999 = time.Duration(median(p50)), time.Duration(median(p99)), time.Duration(median(p999))
	if len(bytesPerOp) > 0 {
		st.BytesPerOp = median(bytesPerOp)
	}
	return st, nil
}

func measureLag(ctx context.Context, sys bench.System, o options, rep *bench.Report, note func(string, ...any)) {
	var lag, all *bench.Hist
	var err error
	short := 0
	switch s := sys.(type) {
	case bench.RESPSystem:
		if lag, err = bench.RESPLag(ctx, s, o.samples); err != nil {
			note("%s lag: %v", sys.Name(), err)
		}
		if all, short, err = bench.RESPAllReplica(ctx, s, o.samples); err != nil {
			note("%s all-replica: %v", sys.Name(), err)
		}
	case bench.LagProber:
		if lag, err = s.MeasureLag(ctx, o.samples); err != nil {
			note("%s lag: %v", sys.Name(), err)
		}
		if all, err = s.MeasureAllReplica(ctx, o.samples); err != nil {
			note("%s all-replica: %v", sys.Name(), err)
		}
	}
	if lag != nil {
		rep.Lag[sys.Name()] = bench.LatStat{P50: lag.Quantile(0.5), P99: lag.Quantile(0.99), P999: lag.Quantile(0.999), N: lag.Count()}
		fmt.Printf("[%s] replication lag p50=%v p99=%v (n=%d)\n", sys.Name(), lag.Quantile(0.5), lag.Quantile(0.99), lag.Count())
	}
	if all != nil {
		rep.All[sys.Name()] = bench.LatStat{P50: all.Quantile(0.5), P99: all.Quantile(0.99), P999: all.Quantile(0.999), N: all.Count()}
		fmt.Printf("[%s] all-replica write p50=%v p99=%v p99.9=%v (n=%d)\n", sys.Name(), all.Quantile(0.5), all.Quantile(0.99), all.Quantile(0.999), all.Count())
		if short > 0 {
			note("%s: %d of %d WAIT 2 1000 answered fewer than 2 replicas", sys.Name(), short, all.Count())
		}
	}
}

func measureMemory(ctx context.Context, rs bench.RESPSystem, o options, rep *bench.Report, note func(string, ...any)) {
	pids := rs.PIDs()
	before, err := bench.RSSBytes(pids[0])
	if err != nil {
		note("%s RSS: %v", rs.Name(), err)
		return
	}
	fmt.Printf("[%s] loading %d keys ...\n", rs.Name(), o.loadKeys)
	took, err := bench.LoadKeys(ctx, rs, o.loadKeys, 16, 64)
	if err != nil {
		note("%s load: %v", rs.Name(), err)
		return
	}
	time.Sleep(time.Second)
	m := bench.MemStat{Keys: o.loadKeys, Node0Before: before, LoadTime: took}
	for i, pid := range pids {
		v, err := bench.RSSBytes(pid)
		if err != nil {
			note("%s RSS: %v", rs.Name(), err)
			return
		}
		if i == 0 {
			m.Node0After = v
		}
		m.AllAfter += v
	}
	m.PerKeyNode0Bytes = float64(m.Node0After-m.Node0Before) / float64(o.loadKeys)
	rep.Memory[rs.Name()] = m
	fmt.Printf("[%s] %d keys loaded in %v; node 1 RSS %d → %d bytes (%.0f bytes/key); 3 nodes %d bytes\n",
		rs.Name(), o.loadKeys, took.Round(time.Millisecond), m.Node0Before, m.Node0After, m.PerKeyNode0Bytes, m.AllAfter)
	// Let the default policies (Spook batch, Redis everysec) reach disk.
	time.Sleep(1500 * time.Millisecond)
	last := string(bench.Key(nil, 'm', o.loadKeys-1))
	d, err := bench.TimeRestart(rs, last, strings.Repeat("v", bench.ValueBytes), 60*time.Second)
	if err != nil {
		note("%s restart: %v", rs.Name(), err)
		return
	}
	rep.Restart[rs.Name()] = d
	fmt.Printf("[%s] restart with %d keys: serving GET after %v\n", rs.Name(), o.loadKeys, d.Round(time.Millisecond))
}

// chartColors gives each family one hue: dark for the default durability,
// light for per-write fsync.
var chartColors = map[string]string{
	"spook/batch": "#6a3d9a", "spook/always": "#cab2d6",
	"redis/everysec": "#e31a1c", "redis/always": "#fb9a99",
	"etcd":         "#1f78b4",
	"nats/default": "#33a02c", "nats/always": "#b2df8a",
}

// chart draws throughput at 16 clients for the default-durability systems,
// each at its best pipeline depth (16 for RESP, 1 otherwise).
func chart(rep *bench.Report) string {
	var bars []bench.ChartBar
	order := []string{"spook/batch", "redis/everysec", "etcd", "nats/default", "spook/always", "redis/always", "nats/always"}
	for _, w := range []bench.Workload{bench.WorkloadSet, bench.WorkloadIncr, bench.WorkloadMixed} {
		for _, sys := range order {
			best := -1.0
			for _, c := range rep.Cells {
				if c.System == sys && c.Cell.Workload == w && c.Cell.Clients == 16 && c.OpsPerSec > best {
					best = c.OpsPerSec
				}
			}
			if best >= 0 {
				bars = append(bars, bench.ChartBar{Group: string(w), Series: sys, Value: best, Color: chartColors[sys]})
			}
		}
	}
	return bench.ThroughputSVG(fmt.Sprintf("Throughput, 16 clients, best pipeline depth (ops/s), %s", rep.Date.UTC().Format("2006-01-02")), bars)
}

// writeDoc splices md into the document at path, creating it if missing.
func writeDoc(path, md string) error {
	doc, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		doc = []byte("# Benchmarks\n\nSpook side by side with Redis, etcd and NATS JetStream, three nodes each on one machine. " +
			"The section between the markers is generated by `cd bench && go run ./cmd/spookbench`; do not edit it by hand.\n\n" +
			bench.MarkerBegin + "\n" + bench.MarkerEnd + "\n")
	} else if err != nil {
		return err
	}
	out, err := bench.Splice(string(doc), md)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

func machine() []string {
	out := []string{}
	run := func(name string, args ...string) string {
		b, err := exec.Command(name, args...).Output()
		if err != nil {
			return name + ": " + err.Error()
		}
		return strings.TrimRight(string(b), "\n")
	}
	out = append(out, "$ nproc", run("nproc"))
	out = append(out, "$ free -g", run("free", "-g"))
	out = append(out, "$ uname -r", run("uname", "-r"))
	out = append(out, "$ go version", run("go", "version"))
	if v := run("redis-server", "--version"); v != "" {
		out = append(out, "$ redis-server --version", v)
	}
	out = append(out, fmt.Sprintf("harness: %s/%s, GOMAXPROCS %d", runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0)))
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func pick[T any](quick bool, q, full T) T {
	if quick {
		return q
	}
	return full
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}
