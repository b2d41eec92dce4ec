package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeTrace writes a gzip JSON trace into dir and returns its path.
func writeTrace(t *testing.T, dir, name, json string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(json))
	zw.Close()
	p := filepath.Join(dir, name+".json.gz")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTraceReplay: one line per file in the documented format, ok=true for
// correct sequential and concurrent traces, ok=false and a failure exit
// for a trace whose endContent the replay does not reach.
func TestTraceReplay(t *testing.T) {
	dir := t.TempDir()
	seqTrace := writeTrace(t, dir, "seqtrace", `{"startContent":"ab","endContent":"aXé€b","txns":[
		{"time":"","patches":[[1,0,"X"]]},{"time":"","patches":[[2,0,"é€!"],[4,1,""]]}]}`)
	concurrent := writeTrace(t, dir, "conc", `{"kind":"concurrent","endContent":"abcxyz","numAgents":2,"txns":[
		{"parents":[],"agent":0,"numChildren":2,"patches":[[0,0,"ac"]]},
		{"parents":[0],"agent":0,"numChildren":1,"patches":[[1,0,"b"]]},
		{"parents":[0],"agent":1,"numChildren":1,"patches":[[2,0,"xyz"]]},
		{"parents":[1,2],"agent":1,"numChildren":0,"patches":[]}]}`)
	wrong := writeTrace(t, dir, "wrong", `{"startContent":"","endContent":"nope","txns":[{"patches":[[0,0,"yes"]]}]}`)
	line := regexp.MustCompile(`^trace=(\S+) ops=(\d+) local_ms=[0-9.]+ merge_ms=[0-9.]+ bytes_per_op=[0-9.]+ final_len=(\d+) ok=(true|false)$`)
	for _, via := range [][]string{nil, {"--keyspace"}} {
		args := append(append([]string{"trace", "replay"}, via...), seqTrace, concurrent)
		out, errOut, err := run(args...)
		if err != nil {
			t.Fatalf("%v: %v (%s)", via, err, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		want := [][]string{{"seqtrace", "3", "5", "true"}, {"conc", "3", "6", "true"}}
		if len(lines) != 2 {
			t.Fatalf("%v: %d lines: %q", via, len(lines), out)
		}
		for i, l := range lines {
			m := line.FindStringSubmatch(l)
			if m == nil || m[1] != want[i][0] || m[2] != want[i][1] || m[3] != want[i][2] || m[4] != want[i][3] {
				t.Fatalf("%v: line %q, want %v", via, l, want[i])
			}
		}
	}
	out, _, err := run("trace", "replay", wrong)
	if err == nil || !strings.Contains(out, "trace=wrong") || !strings.Contains(out, "ok=false") {
		t.Fatalf("wrong trace: err %v, out %q", err, out)
	}
}
