package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Compare writes records a and b side by side as plain-text tables: every
// cell either holds, and every per-system figure, each with A, B and the
// ratio B/A. A figure one record lacks prints as "-" and gets no ratio.
// nameA and nameB label the records (their file names).
func Compare(w io.Writer, nameA string, a *Record, nameB string, b *Record) error {
	fmt.Fprintf(w, "A: %s  commit %s  %s  %s\n", nameA, a.Commit, a.Date.Format("2006-01-02 15:04 UTC"), a.Mode)
	fmt.Fprintf(w, "B: %s  commit %s  %s  %s\n", nameB, b.Commit, b.Date.Format("2006-01-02 15:04 UTC"), b.Mode)
	fmt.Fprintln(w, "x = B/A. Higher is better for ops/s and redis-benchmark; lower for latencies (ms), bytes, memory and restart.")
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tworkload\tc\tP\tops/s A\tops/s B\tx\tp50 A\tp50 B\tx\tp99 A\tp99 B\tx\tp99.9 A\tp99.9 B\tx\tbytes/w A\tbytes/w B\tx\t")
	for _, k := range sortedCellKeys(a, b) {
		ca, cb := a.cell(k), b.cell(k)
		row := []string{k.system, k.workload, fmt.Sprint(k.clients), fmt.Sprint(k.pipelining)}
		row = append(row, triple(field(ca, func(c *RecordCell) *float64 { return &c.OpsPerSec }), field(cb, func(c *RecordCell) *float64 { return &c.OpsPerSec }), "%.0f")...)
		row = append(row, triple(field(ca, func(c *RecordCell) *float64 { return &c.P50Ms }), field(cb, func(c *RecordCell) *float64 { return &c.P50Ms }), "%.3f")...)
		row = append(row, triple(field(ca, func(c *RecordCell) *float64 { return &c.P99Ms }), field(cb, func(c *RecordCell) *float64 { return &c.P99Ms }), "%.3f")...)
		row = append(row, triple(field(ca, func(c *RecordCell) *float64 { return &c.P999Ms }), field(cb, func(c *RecordCell) *float64 { return &c.P999Ms }), "%.3f")...)
		row = append(row, triple(field(ca, func(c *RecordCell) *float64 { return c.BytesPerWrite }), field(cb, func(c *RecordCell) *float64 { return c.BytesPerWrite }), "%.1f")...)
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tfigure\tA\tB\tx\t")
	for _, name := range systemNames(a, b) {
		sa, sb := a.system(name), b.system(name)
		for _, f := range systemFigures(sa, sb) {
			va, vb := f.get(sa), f.get(sb)
			fmt.Fprintln(tw, strings.Join(append([]string{name, f.name}, triple(va, vb, f.format)...), "\t")+"\t")
		}
	}
	return tw.Flush()
}

// field reads one figure of a cell that may be absent.
func field(c *RecordCell, get func(*RecordCell) *float64) *float64 {
	if c == nil {
		return nil
	}
	return get(c)
}

// triple formats A, B and B/A; absent figures print as "-".
func triple(a, b *float64, format string) []string {
	show := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf(format, *v)
	}
	ratio := "-"
	if a != nil && b != nil && *a != 0 {
		ratio = fmt.Sprintf("%.2f", *b / *a)
	}
	return []string{show(a), show(b), ratio}
}

func systemNames(a, b *Record) []string {
	seen := map[string]bool{}
	var names []string
	for _, rec := range []*Record{a, b} {
		for _, s := range rec.Systems {
			if !seen[s.Name] {
				seen[s.Name] = true
				names = append(names, s.Name)
			}
		}
	}
	return names
}

// systemFigure is one per-system figure the comparison prints.
type systemFigure struct {
	name, format string
	get          func(*RecordSystem) *float64
}

// systemFigures lists the figures either side has for one system, in a
// fixed order (redis-benchmark tests sorted by name).
func systemFigures(a, b *RecordSystem) []systemFigure {
	lat := func(name string, pick func(*RecordSystem) *RecordLatency, q func(*RecordLatency) float64) systemFigure {
		return systemFigure{name: name, format: "%.3f", get: func(s *RecordSystem) *float64 {
			if s == nil || pick(s) == nil {
				return nil
			}
			v := q(pick(s))
			return &v
		}}
	}
	lag := func(s *RecordSystem) *RecordLatency { return s.Lag }
	all := func(s *RecordSystem) *RecordLatency { return s.AllReplica }
	p50 := func(l *RecordLatency) float64 { return l.P50Ms }
	p99 := func(l *RecordLatency) float64 { return l.P99Ms }
	p999 := func(l *RecordLatency) float64 { return l.P999Ms }
	figures := []systemFigure{
		lat("lag p50 ms", lag, p50), lat("lag p99 ms", lag, p99), lat("lag p99.9 ms", lag, p999),
		lat("all-replica p50 ms", all, p50), lat("all-replica p99 ms", all, p99), lat("all-replica p99.9 ms", all, p999),
		{name: "memory/key B", format: "%.0f", get: func(s *RecordSystem) *float64 {
			if s == nil {
				return nil
			}
			return s.MemoryPerKey
		}},
		{name: "restart s", format: "%.3f", get: func(s *RecordSystem) *float64 {
			if s == nil {
				return nil
			}
			return s.RestartSeconds
		}},
	}
	tests := map[string]bool{}
	for _, s := range []*RecordSystem{a, b} {
		if s != nil {
			for t := range s.RedisBenchmark {
				tests[t] = true
			}
		}
	}
	names := make([]string, 0, len(tests))
	for t := range tests {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		figures = append(figures, systemFigure{name: "redis-benchmark " + t + "/s", format: "%.0f", get: func(s *RecordSystem) *float64 {
			if s == nil {
				return nil
			}
			v, ok := s.RedisBenchmark[t]
			if !ok {
				return nil
			}
			return &v
		}})
	}
	var out []systemFigure
	for _, f := range figures {
		if f.get(a) != nil || f.get(b) != nil {
			out = append(out, f)
		}
	}
	return out
}
