package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spooksystems/spook/seq/trace"
)

func init() { register("trace", "replay editing traces through the text CRDT", runTrace) }

const traceHelp = `usage: spook trace replay [--keyspace] [--runs N] FILE...

Replays editing traces (gzip JSON in the format of josephg/editing-traces,
sequential or concurrent) through Spook's sequence CRDT and prints, for
each file, one line:

  trace=NAME ops=N local_ms=T merge_ms=M bytes_per_op=B final_len=L ok=true|false

ops        edits in the trace (a patch's deletion and its insertion count
           one each; in the published traces every patch is one keystroke)
local_ms   replaying every edit as a local operation, including encoding
           each transaction's operation (its delta) as it is made; a
           concurrent trace gives each agent its own replica, which
           integrates its parents' transactions before each of its own
merge_ms   decoding that whole history and integrating it as remote
           operations into an empty replica
bytes_per_op  encoded operation bytes (dot and steps) per edit
final_len  code points of the final text
ok         both the local and the merged final text equal the trace's
           endContent

By default the replay drives package seq directly; --keyspace drives it
through crdt.Keyspace transactions (Builder.TextInsert/TextDelete, Finish,
Apply; merge decodes and applies each transaction), and bytes_per_op is
then the transaction body (key, tags, steps) per edit. With --runs N each
phase runs N times and the median is printed. Exits 1 if any file is not
ok or cannot be read.

Example:
  spook trace replay automerge-paper.json.gz friendsforever.json.gz
`

// MaxTraceRuns bounds --runs.
const MaxTraceRuns = 100

// runTrace dispatches spook trace's subcommands (only replay).
func runTrace(args []string) error {
	if len(args) == 0 || (args[0] != "replay" && !strings.HasPrefix(args[0], "-")) {
		return usageErrorf("want a subcommand: replay")
	}
	if args[0] == "replay" {
		args = args[1:]
	}
	fs := newFlagSet("trace replay", traceHelp)
	viaKeyspace := fs.Bool("keyspace", false, "replay through crdt.Keyspace transactions instead of package seq directly")
	runs := fs.Int("runs", 1, "run each phase this many times and print the median")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageErrorf("want at least one trace FILE")
	}
	if *runs < 1 || *runs > MaxTraceRuns {
		return fmt.Errorf("--runs %d: give 1 to %d", *runs, MaxTraceRuns)
	}
	failed := 0
	for _, f := range files {
		line, ok, err := replayFile(f, *viaKeyspace, *runs)
		if err != nil {
			fmt.Fprintf(stderr, "spook trace replay: %s: %v\n", f, err)
			failed++
			continue
		}
		fmt.Fprintln(stdout, line)
		if !ok {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d traces not ok", failed, len(files))
	}
	return nil
}

// traceResult is one run's figures.
type traceResult struct {
	local, merge time.Duration
	bytes        int
	final        string
	ok           bool
}

// replayFile replays one file runs times and formats its line.
func replayFile(path string, viaKeyspace bool, runs int) (string, bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false, err
	}
	tr, err := trace.Parse(b)
	if err != nil {
		return "", false, err
	}
	var results []traceResult
	for i := 0; i < runs; i++ {
		var r traceResult
		if viaKeyspace {
			r, err = replayKeyspace(tr)
		} else {
			r, err = replaySeq(tr)
		}
		if err != nil {
			return "", false, err
		}
		results = append(results, r)
	}
	median := func(get func(r traceResult) time.Duration) time.Duration {
		ds := make([]time.Duration, len(results))
		for i, r := range results {
			ds[i] = get(r)
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	ok := true
	for _, r := range results {
		ok = ok && r.ok
	}
	ops := tr.Ops()
	name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".gz"), ".json")
	line := fmt.Sprintf("trace=%s ops=%d local_ms=%.1f merge_ms=%.1f bytes_per_op=%.2f final_len=%d ok=%v",
		name, ops, ms(median(func(r traceResult) time.Duration { return r.local })),
		ms(median(func(r traceResult) time.Duration { return r.merge })),
		float64(results[0].bytes)/float64(max(ops, 1)), utf8.RuneCountInString(results[0].final), ok)
	return line, ok, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// replaySeq replays tr through package seq.
func replaySeq(tr *trace.Trace) (traceResult, error) {
	var r traceResult
	start := time.Now()
	local, h, err := trace.Local(tr)
	r.local = time.Since(start)
	if err != nil {
		return r, err
	}
	start = time.Now()
	merged, err := trace.Merge(h)
	r.merge = time.Since(start)
	if err != nil {
		return r, err
	}
	r.bytes = len(h.Bytes)
	r.final = trace.String(merged)
	r.ok = r.final == tr.End && trace.String(local) == tr.End
	return r, nil
}

// replayKeyspace replays tr through crdt.Keyspace transactions.
func replayKeyspace(tr *trace.Trace) (traceResult, error) {
	var r traceResult
	start := time.Now()
	local, h, err := trace.LocalKeyspace(tr)
	r.local = time.Since(start)
	if err != nil {
		return r, err
	}
	start = time.Now()
	merged, err := trace.MergeKeyspace(h)
	r.merge = time.Since(start)
	if err != nil {
		return r, err
	}
	r.bytes = h.BodyBytes
	r.final = trace.KeyspaceText(merged)
	r.ok = r.final == tr.End && trace.KeyspaceText(local) == tr.End
	return r, nil
}
