package bench

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSplice(t *testing.T) {
	doc := "intro\n" + MarkerBegin + "\nold\n" + MarkerEnd + "\nlead's text\n"
	got, err := Splice(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "intro\n" + MarkerBegin + "\nnew table\n" + MarkerEnd + "\nlead's text\n"
	if got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	for _, bad := range []string{"no markers", MarkerEnd + MarkerBegin, MarkerBegin} {
		if _, err := Splice(bad, "x"); !errors.Is(err, ErrMarkers) {
			t.Errorf("Splice(%q) err %v, want ErrMarkers", bad, err)
		}
	}
}

func TestKeyIsFixedLength(t *testing.T) {
	for _, i := range []int{0, 7, 99999, 999999} {
		k := Key(nil, 's', i)
		if len(k) != KeyBytes {
			t.Fatalf("Key(%d) = %q, %d bytes", i, k, len(k))
		}
	}
	if string(Key(nil, 'c', 42)) != "c.00000000000042" {
		t.Fatalf("Key = %q", Key(nil, 'c', 42))
	}
}

func TestSumPrometheus(t *testing.T) {
	text := "# HELP x\nspook_peer_sent_bytes_total{peer=\"n2\"} 100\nspook_peer_sent_bytes_total{peer=\"n3\"} 2.5e+02\nspook_peer_sent_bytes_total_other 7\n"
	v, ok := SumPrometheus([]byte(text), "spook_peer_sent_bytes_total")
	if !ok || v != 350 {
		t.Fatalf("sum %v %v, want 350", v, ok)
	}
	if _, ok := SumPrometheus([]byte(text), "missing"); ok {
		t.Fatal("found a missing metric")
	}
}

func TestParseBenchmarkCSV(t *testing.T) {
	out := "\"test\",\"rps\",\"avg_latency_ms\"\n\"SET\",\"70822.00\",\"3.1\"\n\"INCR\",\"89445.50\",\"2.0\"\n"
	res, err := parseBenchmarkCSV(out)
	if err != nil {
		t.Fatal(err)
	}
	if res["SET"] != 70822 || res["INCR"] != 89445.5 || len(res) != 2 {
		t.Fatalf("parsed %v", res)
	}
	if _, err := parseBenchmarkCSV("garbage"); err == nil {
		t.Fatal("no error for output without results")
	}
}

func sampleReport() *Report {
	c := Cell{Workload: WorkloadSet, Clients: 16, Pipeline: 16}
	c1 := Cell{Workload: WorkloadSet, Clients: 16, Pipeline: 1}
	return &Report{
		Command: "spookbench --quick", Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Mode: "quick",
		Systems: []SystemInfo{{Name: "spook/batch", Status: "ok"}, {Name: "redis/everysec", Status: "ok"}, {Name: "etcd", Status: "ok"}, {Name: "nats/default", Status: "not run: test"}},
		Cells: []CellStat{
			{System: "spook/batch", Cell: c, OpsPerSec: 300000, P99: 2 * time.Millisecond, BytesPerOp: 60},
			{System: "redis/everysec", Cell: c, OpsPerSec: 200000, P99: time.Millisecond, BytesPerOp: 150},
			{System: "etcd", Cell: c1, OpsPerSec: 10000, P99: 10 * time.Millisecond, BytesPerOp: 400},
		},
		Lag:      map[string]LatStat{"spook/batch": {P99: time.Millisecond}, "redis/everysec": {P99: 2 * time.Millisecond}},
		All:      map[string]LatStat{},
		Memory:   map[string]MemStat{"spook/batch": {Keys: 1000, PerKeyNode0Bytes: 200}, "redis/everysec": {Keys: 1000, PerKeyNode0Bytes: 100}},
		Restart:  map[string]time.Duration{"spook/batch": 3 * time.Second},
		BytesRow: c,
	}
}

func TestMarkdownRatiosAndGoals(t *testing.T) {
	md := sampleReport().Markdown()
	for _, want := range []string{
		"| SET | 16 | 16 | 300 k | 200 k | 1.50× |", // Spook/Redis throughput
		"Throughput ≥ 1.0× Redis (RESP, P=16, SET, 16 clients, default durability): 1.50× — **met**",
		"Throughput ≥ 20× etcd (SET, 16 clients; Spook P=16 vs etcd's unpipelined client): 30.0× — **met**",
		"Replication bytes per SET ≤ 0.6× Redis: 60 vs 150 bytes, 0.40× — **met**",
		"Replication lag p99 ≤ Redis's: 1.00 ms vs 2.00 ms — **met**",
		"Restart with 1000 keys < 2 s: 3.00 s — **missed**",
		"Memory per key ≤ 1.5× Redis's: 200 vs 100 bytes, 2.00× — **missed**",
		"| nats/default |  | not run: test |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestBytesPerWriteFallsBackToUnpipelined(t *testing.T) {
	r := sampleReport()
	if v := r.bytesPerWrite("etcd"); v != 400 {
		t.Fatalf("etcd bytes %v, want the P=1 cell's 400", v)
	}
	if v := r.bytesPerWrite("nats/default"); !math.IsNaN(v) {
		t.Fatalf("unmeasured system bytes %v, want NaN", v)
	}
}

func TestThroughputSVGIsWellFormed(t *testing.T) {
	svg := ThroughputSVG("t <&>", []ChartBar{{Group: "SET", Series: "spook/batch", Value: 100, Color: "#000"}, {Group: "SET", Series: "redis/everysec", Value: 50}, {Group: "INCR", Series: "spook/batch", Value: 0}})
	d := xml.NewDecoder(strings.NewReader(svg))
	rects := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if strings.Count(svg, `fill="#000"`) != 3 { // two bars and the legend swatch of spook/batch
		t.Fatalf("explicit series color not used for all of the series:\n%s", svg)
	}
	// background + 3 bars + 2 legend swatches
	if rects != 6 {
		t.Fatalf("%d rects, want 6", rects)
	}
}
