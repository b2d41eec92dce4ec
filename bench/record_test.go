package bench

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// recordReport is a small report: Spook and Redis in the default class,
// one cell each, Spook with a second cell, lag, memory and restart.
func recordReport(opsScale float64) *Report {
	set := Cell{Workload: WorkloadSet, Clients: 16, Pipeline: 16}
	incr := Cell{Workload: WorkloadIncr, Clients: 1, Pipeline: 1}
	return &Report{
		Date:    time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC),
		Machine: []string{"$ nproc", "2"},
		Mode:    "quick mode",
		Systems: []SystemInfo{
			{Name: "spook/batch", Durability: Default, Status: "ok"},
			{Name: "redis/everysec", Durability: Default, Status: "ok"},
		},
		Cells: []CellStat{
			{System: "spook/batch", Cell: set, OpsPerSec: 100_000 * opsScale, P50: time.Millisecond, P99: 2 * time.Millisecond, P999: 3 * time.Millisecond, BytesPerOp: 60},
			{System: "spook/batch", Cell: incr, OpsPerSec: 10_000, P50: 100 * time.Microsecond, BytesPerOp: math.NaN()},
			{System: "redis/everysec", Cell: set, OpsPerSec: 300_000, P50: 500 * time.Microsecond, BytesPerOp: 50},
		},
		Lag:     map[string]LatStat{"spook/batch": {P50: 500 * time.Microsecond, P99: 900 * time.Microsecond, N: 200}},
		All:     map[string]LatStat{},
		RedisBM: map[string]map[string]float64{"spook/batch": {"SET": 150_000 * opsScale, "INCR": 120_000}},
		Memory:  map[string]MemStat{"spook/batch": {Keys: 1_000_000, PerKeyNode0Bytes: 493}},
		Restart: map[string]time.Duration{"spook/batch": 1210 * time.Millisecond},
	}
}

// TestRecordRoundTrip checks that a report's record survives the JSON
// file: cells with their class, per-system figures, and unknown figures
// as absent rather than zero.
func TestRecordRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.json")
	if err := WriteRecord(path, recordReport(1).Record("abc123")); err != nil {
		t.Fatal(err)
	}
	rec, err := ReadRecord(path)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Commit != "abc123" || rec.Schema != RecordSchema || len(rec.Cells) != 3 || len(rec.Systems) != 2 {
		t.Fatalf("record: %+v", rec)
	}
	c := rec.Cells[0]
	if c.System != "spook/batch" || c.Durability != string(Default) || c.Workload != "SET" || c.Clients != 16 ||
		c.Pipeline != 16 || c.OpsPerSec != 100_000 || c.P99Ms != 2 || c.P999Ms != 3 || c.BytesPerWrite == nil || *c.BytesPerWrite != 60 {
		t.Fatalf("cell 0: %+v", c)
	}
	if rec.Cells[1].BytesPerWrite != nil {
		t.Fatalf("unknown bytes/write read back as %v, want absent", *rec.Cells[1].BytesPerWrite)
	}
	s := rec.Systems[0]
	if s.Lag == nil || s.Lag.P99Ms != 0.9 || s.AllReplica != nil || s.MemoryPerKey == nil || *s.MemoryPerKey != 493 ||
		s.RestartSeconds == nil || *s.RestartSeconds != 1.21 || s.LoadedKeys != 1_000_000 {
		t.Fatalf("system 0: %+v", s)
	}
	if r := rec.Systems[1]; r.Lag != nil || r.MemoryPerKey != nil || r.RestartSeconds != nil {
		t.Fatalf("system 1 has figures it never measured: %+v", r)
	}
}

func TestReadRecordRefusesOtherSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(path, []byte(`{"schema": 99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRecord(path); !errors.Is(err, ErrRecordSchema) {
		t.Fatalf("err %v, want ErrRecordSchema", err)
	}
}

// TestCompare compares two records written to files: B has twice A's SET
// throughput and lacks one of A's cells.
func TestCompare(t *testing.T) {
	dir := t.TempDir()
	a := recordReport(1).Record("aaa")
	bReport := recordReport(2)
	bReport.Cells = bReport.Cells[:1] // only spook/batch SET
	b := bReport.Record("bbb")
	pa, pb := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	if err := WriteRecord(pa, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteRecord(pb, b); err != nil {
		t.Fatal(err)
	}
	ra, err := ReadRecord(pa)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ReadRecord(pb)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Compare(&out, "a.json", ra, "b.json", rb); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	lines := strings.Split(text, "\n")
	find := func(words ...string) string {
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) >= len(words) && slices.Equal(f[:len(words)], words) {
				return l
			}
		}
		t.Fatalf("no line starting %q in:\n%s", words, text)
		return ""
	}
	if f := strings.Fields(find("spook/batch", "SET", "16", "16")); f[4] != "100000" || f[5] != "200000" || f[6] != "2.00" {
		t.Errorf("SET row %q: want 100000 200000 2.00", f)
	}
	if f := strings.Fields(find("spook/batch", "INCR", "1", "1")); f[5] != "-" || f[6] != "-" {
		t.Errorf("INCR row %q: B lacks the cell, want - and no ratio", f)
	}
	if f := strings.Fields(find("spook/batch", "redis-benchmark", "SET/s")); f[len(f)-1] != "2.00" {
		t.Errorf("redis-benchmark row %q: want ratio 2.00", f)
	}
	if f := strings.Fields(find("spook/batch", "memory/key", "B")); f[3] != "493" || f[5] != "1.00" {
		t.Errorf("memory row %q", f)
	}
	if !strings.Contains(text, "commit aaa") || !strings.Contains(text, "commit bbb") {
		t.Errorf("header does not name both commits:\n%s", text)
	}
}
