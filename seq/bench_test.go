package seq_test

import (
	"os"
	"runtime"
	"syscall"
	"testing"

	"github.com/spooksystems/spook/seq"
	"github.com/spooksystems/spook/seq/trace"
)

// The trace benchmarks replay the shared editing traces (skipped when
// they are absent): BenchmarkTraceLocal every edit as a local operation
// with its delta encoded, BenchmarkTraceMerge the whole history into an
// empty replica, BenchmarkTraceMemory the final document's live heap and
// encoded size. docs/BENCHMARKS.md reports them. Local and merge also
// report cpu-ms/op, the process CPU time (user and system, garbage
// collection included) per replay: on a shared machine it varies less
// than ns/op, which counts waiting for a core.

var traces = []string{"automerge-paper", "friendsforever"}

// traceDirs are where the traces may be: $SPOOK_TRACE_DIR, the shared/
// directory beside the repository, and the session machine's.
func traceDirs() []string {
	return []string{os.Getenv("SPOOK_TRACE_DIR"), "../../shared/data/editing-traces", "/work/shared/data/editing-traces"}
}

// cpuTime returns the process's CPU time so far (user and system), in
// milliseconds.
func cpuTime(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

func loadTrace(b *testing.B, name string) *trace.Trace {
	var raw []byte
	err := os.ErrNotExist
	for _, d := range traceDirs() {
		if d == "" {
			continue
		}
		if raw, err = os.ReadFile(d + "/" + name + ".json.gz"); err == nil {
			break
		}
	}
	if err != nil {
		b.Skipf("trace %s: %v", name, err)
	}
	t, err := trace.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

func BenchmarkTraceLocal(b *testing.B) {
	for _, name := range traces {
		b.Run(name, func(b *testing.B) {
			t := loadTrace(b, name)
			b.ReportAllocs()
			b.ResetTimer()
			var h *trace.History
			var cpu float64
			for i := 0; i < b.N; i++ {
				start := cpuTime(b)
				s, hist, err := trace.Local(t)
				cpu += cpuTime(b) - start
				if err != nil {
					b.Fatalf("replay: %v", err)
				}
				b.StopTimer()
				if trace.String(s) != t.End {
					b.Fatal("replay: wrong final text")
				}
				b.StartTimer()
				h = hist
			}
			b.ReportMetric(cpu/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(len(h.Bytes))/float64(t.Ops()), "B/op-delta")
		})
	}
}

func BenchmarkTraceMerge(b *testing.B) {
	for _, name := range traces {
		b.Run(name, func(b *testing.B) {
			t := loadTrace(b, name)
			_, h, err := trace.Local(t)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := cpuTime(b)
			for i := 0; i < b.N; i++ {
				s, err := trace.Merge(h)
				if err != nil || s.Len() == 0 {
					b.Fatalf("merge: %v", err)
				}
			}
			b.ReportMetric((cpuTime(b)-start)/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkTraceMemory reports the live heap of the final document after
// a local replay (the history dropped, after GC) and its encoded state.
func BenchmarkTraceMemory(b *testing.B) {
	for _, name := range traces {
		b.Run(name, func(b *testing.B) {
			t := loadTrace(b, name)
			var heap, encoded, runs float64
			for i := 0; i < b.N; i++ {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s, _, err := trace.Local(t)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = float64(after.HeapAlloc) - float64(before.HeapAlloc)
				encoded = float64(len(s.AppendState(nil)))
				runs = float64(s.Runs())
				runtime.KeepAlive(s)
			}
			b.ReportMetric(heap, "heap-bytes")
			b.ReportMetric(encoded, "state-bytes")
			b.ReportMetric(runs, "runs")
		})
	}
}

var _ = seq.New[seq.Text]
