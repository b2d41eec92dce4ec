package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"time"
)

// RecordSchema is the version of the JSON record format. It is bumped when
// a field changes meaning; fields are only ever added under one version.
const RecordSchema = 1

// ErrRecordSchema is returned by ReadRecord for a file of another schema
// version (or one that is not a record at all).
var ErrRecordSchema = errors.New("bench: not a spookbench record of a known schema")

// Record is the machine-readable result of one harness run: every cell and
// every per-system figure of the Markdown report, plus what was measured
// (commit, date, machine). `make bench-quick` writes one
// (docs/bench/quick.json) and `scripts/bench-compare A.json B.json` puts
// two side by side.
//
// Latencies are in milliseconds and sizes in bytes, as floats; a figure
// that was not measured is absent (null), never zero.
type Record struct {
	Schema  int            `json:"schema"`
	Commit  string         `json:"commit"` // git HEAD of the tree measured; "+dirty" if it had changes
	Date    time.Time      `json:"date"`
	Machine []string       `json:"machine"` // nproc, free -g, kernel, Go version, load average lines
	Mode    string         `json:"mode"`    // quick or full, cell duration, runs per cell
	Command string         `json:"command"`
	Cells   []RecordCell   `json:"cells"`
	Systems []RecordSystem `json:"systems"`
	Notes   []string       `json:"notes,omitempty"`
}

// RecordCell is one cell's median over its runs.
type RecordCell struct {
	System        string   `json:"system"`
	Durability    string   `json:"durability"` // "per-write fsync" or "default"
	Workload      string   `json:"workload"`
	Clients       int      `json:"clients"`
	Pipeline      int      `json:"pipeline"`
	OpsPerSec     float64  `json:"ops_per_sec"`
	P50Ms         float64  `json:"p50_ms"`
	P99Ms         float64  `json:"p99_ms"`
	P999Ms        float64  `json:"p999_ms"`
	BytesPerWrite *float64 `json:"bytes_per_write,omitempty"` // replication bytes between nodes per operation
	Errors        uint64   `json:"errors"`
}

// RecordLatency is a latency distribution in milliseconds.
type RecordLatency struct {
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	N      uint64  `json:"n"`
}

// RecordSystem holds the figures measured once per system.
type RecordSystem struct {
	Name           string             `json:"name"`
	Durability     string             `json:"durability"`
	Status         string             `json:"status"`                // "ok" or why it did not run
	Lag            *RecordLatency     `json:"lag,omitempty"`         // replication lag to the other nodes
	AllReplica     *RecordLatency     `json:"all_replica,omitempty"` // a write acknowledged by every node
	RedisBenchmark map[string]float64 `json:"redis_benchmark,omitempty"`
	LoadedKeys     int                `json:"loaded_keys,omitempty"`
	MemoryPerKey   *float64           `json:"memory_per_key_bytes,omitempty"` // node 1's RSS growth per loaded key
	RestartSeconds *float64           `json:"restart_seconds,omitempty"`      // restart with LoadedKeys until GET answers
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func latency(s LatStat, ok bool) *RecordLatency {
	if !ok {
		return nil
	}
	return &RecordLatency{P50Ms: ms(s.P50), P99Ms: ms(s.P99), P999Ms: ms(s.P999), N: s.N}
}

func some(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Record turns the report into its JSON record; commit names the tree
// measured.
func (r *Report) Record(commit string) *Record {
	out := &Record{Schema: RecordSchema, Commit: commit, Date: r.Date.UTC(), Machine: r.Machine,
		Mode: r.Mode, Command: r.Command, Notes: r.Notes}
	durability := map[string]Durability{}
	for _, s := range r.Systems {
		durability[s.Name] = s.Durability
		rs := RecordSystem{Name: s.Name, Durability: string(s.Durability), Status: s.Status}
		lag, ok := r.Lag[s.Name]
		rs.Lag = latency(lag, ok)
		all, ok := r.All[s.Name]
		rs.AllReplica = latency(all, ok)
		rs.RedisBenchmark = r.RedisBM[s.Name]
		if m, ok := r.Memory[s.Name]; ok {
			rs.LoadedKeys = m.Keys
			rs.MemoryPerKey = some(m.PerKeyNode0Bytes)
		}
		if d, ok := r.Restart[s.Name]; ok {
			rs.RestartSeconds = some(d.Seconds())
		}
		out.Systems = append(out.Systems, rs)
	}
	for _, c := range r.Cells {
		out.Cells = append(out.Cells, RecordCell{
			System: c.System, Durability: string(durability[c.System]), Workload: string(c.Cell.Workload),
			Clients: c.Cell.Clients, Pipeline: c.Cell.Pipeline, OpsPerSec: c.OpsPerSec,
			P50Ms: ms(c.P50), P99Ms: ms(c.P99), P999Ms: ms(c.P999),
			BytesPerWrite: some(c.BytesPerOp), Errors: c.Errors,
		})
	}
	return out
}

// WriteRecord writes rec to path as indented JSON.
func WriteRecord(path string, rec *Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadRecord reads a record written by WriteRecord.
func ReadRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if rec.Schema != RecordSchema {
		return nil, fmt.Errorf("%s: schema %d: %w", path, rec.Schema, ErrRecordSchema)
	}
	return &rec, nil
}

// cellKey identifies a cell across two records.
type cellKey struct {
	system, workload    string
	clients, pipelining int
}

func (k cellKey) less(o cellKey) bool {
	if k.system != o.system {
		return k.system < o.system
	}
	if k.workload != o.workload {
		return k.workload < o.workload
	}
	if k.clients != o.clients {
		return k.clients < o.clients
	}
	return k.pipelining < o.pipelining
}

// sortedCellKeys lists the cells of a and b (a's order first, then cells
// only b has, each group in (system, workload, clients, pipeline) order).
func sortedCellKeys(a, b *Record) []cellKey {
	seen := map[cellKey]bool{}
	var keys []cellKey
	for _, rec := range []*Record{a, b} {
		for _, c := range rec.Cells {
			k := cellKey{c.System, c.Workload, c.Clients, c.Pipeline}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
	return keys
}

func (r *Record) cell(k cellKey) *RecordCell {
	for i := range r.Cells {
		c := &r.Cells[i]
		if c.System == k.system && c.Workload == k.workload && c.Clients == k.clients && c.Pipeline == k.pipelining {
			return c
		}
	}
	return nil
}

func (r *Record) system(name string) *RecordSystem {
	for i := range r.Systems {
		if r.Systems[i].Name == name {
			return &r.Systems[i]
		}
	}
	return nil
}
