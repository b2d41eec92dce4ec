package seq_test

import (
	"os"
	"runtime"
	"testing"

	"github.com/spooksystems/spook/seq"
	"github.com/spooksystems/spook/seq/trace"
)

// The trace benchmarks replay the shared editing traces (skipped when
// they are absent): BenchmarkTraceLocal every edit as a local operation
// with its delta encoded, BenchmarkTraceMerge the whole history into an
// empty replica, BenchmarkTraceMemory the final document's live heap and
// encoded size. docs/BENCHMARKS.md reports them.

var traces = []string{"automerge-paper", "friendsforever"}

// traceDirs are where the traces may be: $SPOOK_TRACE_DIR, the shared/
// directory beside the repository, and the session machine's.
func traceDirs() []string {
	return []string{os.Getenv("SPOOK_TRACE_DIR"), "../../shared/data/editing-traces", "/work/shared/data/editing-traces"}
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
			for i := 0; i < b.N; i++ {
				s, hist, err := trace.Local(t)
				if err != nil || trace.String(s) != t.End {
					b.Fatalf("replay: %v", err)
				}
				h = hist
			}
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
			for i := 0; i < b.N; i++ {
				s, err := trace.Merge(h)
				if err != nil || s.Len() == 0 {
					b.Fatalf("merge: %v", err)
				}
			}
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
