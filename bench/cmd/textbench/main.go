package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spooksystems/spook/seq/trace"
)

// result is one system's figures on one trace.
type result struct {
	System     string  `json:"system"`
	Trace      string  `json:"trace"`
	Ops        int     `json:"ops"`
	LocalMs    float64 `json:"local_ms"`
	MergeMs    float64 `json:"merge_ms"`
	BytesPerOp float64 `json:"bytes_per_op"`
	HeapBytes  float64 `json:"heap_bytes"`
	StateBytes float64 `json:"state_bytes"`
	OK         bool    `json:"ok"`
	Prefix     int     `json:"prefix"`
}

func main() {
	runs := flag.Int("runs", 3, "runs per phase (the median is printed)")
	dir := flag.String("traces", defaultTraceDir(), "directory holding automerge-paper.json.gz and friendsforever.json.gz")
	prefix := flag.Int("automerge-prefix", 20000, "replay only this many transactions of a sequential trace through Automerge (0: all; it makes about 500 changes a second)")
	skipPeers := flag.Bool("skip-peers", false, "run Spook only")
	flag.Parse()
	names := []string{"automerge-paper", "friendsforever"}
	var files []string
	for _, n := range names {
		files = append(files, filepath.Join(*dir, n+".json.gz"))
	}
	var all []result
	for _, f := range files {
		rs, err := spook(f, *runs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "textbench:", err)
			os.Exit(1)
		}
		all = append(all, rs...)
	}
	if !*skipPeers {
		rs, err := peers(files, *runs, *prefix)
		if err != nil {
			fmt.Fprintln(os.Stderr, "textbench: peers:", err)
			os.Exit(1)
		}
		all = append(all, rs...)
	}
	print(all)
}

func defaultTraceDir() string {
	if d := os.Getenv("SPOOK_TRACE_DIR"); d != "" {
		return d
	}
	return "../../shared/data/editing-traces"
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// spook replays one trace through seq and through crdt.Keyspace.
func spook(file string, runs int) ([]result, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	tr, err := trace.Parse(raw)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(file), ".json.gz")
	seqRes := result{System: "spook (seq)", Trace: name, Ops: tr.Ops(), OK: true}
	ksRes := result{System: "spook (keyspace txns)", Trace: name, Ops: tr.Ops(), OK: true}
	seqRes.HeapBytes, seqRes.StateBytes = memory(tr)
	var sl, sm, kl, km []float64
	for i := 0; i < runs; i++ {
		runtime.GC()
		start := time.Now()
		local, h, err := trace.Local(tr)
		sl = append(sl, ms(time.Since(start)))
		if err != nil {
			return nil, err
		}
		start = time.Now()
		merged, err := trace.Merge(h)
		sm = append(sm, ms(time.Since(start)))
		if err != nil {
			return nil, err
		}
		seqRes.OK = seqRes.OK && trace.String(local) == tr.End && trace.String(merged) == tr.End
		seqRes.BytesPerOp = float64(len(h.Bytes)) / float64(tr.Ops())

		runtime.GC()
		start = time.Now()
		ks, kh, err := trace.LocalKeyspace(tr)
		kl = append(kl, ms(time.Since(start)))
		if err != nil {
			return nil, err
		}
		start = time.Now()
		kmerged, err := trace.MergeKeyspace(kh)
		km = append(km, ms(time.Since(start)))
		if err != nil {
			return nil, err
		}
		ksRes.OK = ksRes.OK && trace.KeyspaceText(ks) == tr.End && trace.KeyspaceText(kmerged) == tr.End
		ksRes.BytesPerOp = float64(kh.BodyBytes) / float64(tr.Ops())
		ksRes.StateBytes = float64(len(ks.AppendBinary(nil)))
	}
	seqRes.LocalMs, seqRes.MergeMs = median(sl), median(sm)
	ksRes.LocalMs, ksRes.MergeMs = median(kl), median(km)
	return []result{seqRes, ksRes}, nil
}

// memory returns the live heap a trace's final document holds after a
// local replay whose history is dropped, and its encoded state size.
func memory(tr *trace.Trace) (heap, state float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	doc, _, err := trace.Local(tr)
	if err != nil {
		return 0, 0
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap = float64(after.HeapAlloc) - float64(before.HeapAlloc)
	state = float64(len(doc.AppendState(nil)))
	runtime.KeepAlive(doc)
	return heap, state
}

// peers runs bench/trace/bench.mjs and reads its JSON lines.
func peers(files []string, runs, prefix int) ([]result, error) {
	args := []string{"--expose-gc", "bench.mjs", "--runs", fmt.Sprint(runs), "--automerge-prefix", fmt.Sprint(prefix)}
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		args = append(args, abs)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = "trace"
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("node bench.mjs: %w (run npm install in bench/trace: make bench-text does)", err)
	}
	var rs []result
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("bench.mjs line %q: %w", sc.Text(), err)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// print writes the table: one row per trace and system, then the ratios
// of Spook (seq) to each peer on the same trace.
func print(all []result) {
	fmt.Println("| trace | system | ops | local ms | merge ms | bytes/op | final doc heap | encoded state | ok |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range all {
		ops := fmt.Sprint(r.Ops)
		if r.Prefix > 0 {
			ops += fmt.Sprintf(" (first %d txns)", r.Prefix)
		}
		heap := "—"
		if r.HeapBytes > 0 {
			heap = fmt.Sprintf("%.2f MB", r.HeapBytes/1e6)
		}
		fmt.Printf("| %s | %s | %s | %.1f | %.1f | %.2f | %s | %.0f KB | %v |\n",
			r.Trace, r.System, ops, r.LocalMs, r.MergeMs, r.BytesPerOp, heap, r.StateBytes/1e3, r.OK)
	}
	fmt.Println()
	fmt.Println("| trace | peer | local: Spook/peer | merge: Spook/peer | bytes/op: Spook/peer | heap: Spook/peer |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, s := range all {
		if s.System != "spook (seq)" {
			continue
		}
		for _, p := range all {
			if p.Trace != s.Trace || strings.HasPrefix(p.System, "spook") {
				continue
			}
			note := ""
			if p.Prefix > 0 {
				note = " (peer on a prefix: per-op figures compare, totals do not)"
				localPerOp := s.LocalMs / float64(s.Ops) / (p.LocalMs / float64(p.Ops))
				mergePerOp := s.MergeMs / float64(s.Ops) / (p.MergeMs / float64(p.Ops))
				fmt.Printf("| %s | %s%s | %.3f per op | %.3f per op | %.2f | — |\n", s.Trace, p.System, note, localPerOp, mergePerOp, s.BytesPerOp/p.BytesPerOp)
				continue
			}
			fmt.Printf("| %s | %s | %.3f | %.3f | %.2f | %.2f |\n", s.Trace, p.System,
				s.LocalMs/p.LocalMs, s.MergeMs/p.MergeMs, s.BytesPerOp/p.BytesPerOp, s.HeapBytes/p.HeapBytes)
		}
	}
}
