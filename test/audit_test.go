package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestAuditVerify runs a three-node cluster in audit mode (keys made with
// spook audit keygen), writes on every node, and checks that spook audit
// verify accepts a running node's history (--addr) and a stopped node's
// data directory (--data), with checkpoints. Then it changes one byte of
// a written value in a log segment and recomputes the record's CRC, so
// storage accepts the record and only the signature can catch it (its
// own, or, for a linked record, the signature of its origin's chain head
// after it, which no longer chains to it): verify must fail, exit 1, and
// name that record's position.
func TestAuditVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	spook := build(t, "spook")
	keys := t.TempDir()
	var addrs, peers, dirs []string
	for i := 1; i <= 3; i++ {
		a := freePort(t)
		addrs, dirs = append(addrs, a), append(dirs, t.TempDir())
		peers = append(peers, fmt.Sprintf("n%d=%s", i, a))
		if out, err := exec.Command(spook, "audit", "keygen", fmt.Sprint("n", i), "--data", dirs[i-1], "--keys", keys).CombinedOutput(); err != nil {
			t.Fatalf("keygen: %v\n%s", err, out)
		}
	}
	var procs []*process
	for i, a := range addrs {
		p := startSpookd(t, a, "--node-id", fmt.Sprint("n", i+1), "--peers", strings.Join(peers, ","),
			"--data", dirs[i], "--audit-keys", keys, "--log-level", "warn")
		t.Cleanup(p.kill)
		procs = append(procs, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, p := range procs {
		c := redis.NewClient(&redis.Options{Addr: p.addr, Protocol: 2})
		for j := 0; j < 20; j++ {
			if err := c.Set(ctx, fmt.Sprintf("k%d-%d", i, j), fmt.Sprintf("audit-value-%d-%d", i, j), 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
	}
	// Wait (bounded) until n2 has logged a checkpoint covering the last write.
	var rep struct {
		OK                        bool
		Transactions, Checkpoints int
		Error                     string
	}
	for {
		resp, err := http.Get("http://" + addrs[1] + "/v1/audit/verify")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if err != nil || !rep.OK {
			t.Fatalf("online verify: %+v %v", rep, err)
		}
		if rep.Transactions >= 60 && rep.Checkpoints >= 1 {
			if resp, err := http.Get("http://" + addrs[1] + "/v1/audit/proof?key=k2-19"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break // a checkpoint covers the last write
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("n2 verified %+v, want ≥ 60 transactions and a checkpoint covering k2-19", rep)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, err := exec.Command(spook, "audit", "verify", "--addr", addrs[1]).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok=true") {
		t.Fatalf("spook audit verify --addr: %v\n%s", err, out)
	}
	// The state at checkpoint 1 rebuilt by two members: the same hash.
	var replays []string
	for _, a := range addrs[:2] {
		out, err := exec.Command(spook, "audit", "replay", "--to", "1", "--addr", a).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "state_hash=") {
			t.Fatalf("spook audit replay --to 1 --addr %s: %v\n%s", a, err, out)
		}
		replays = append(replays, strings.SplitN(string(out), "\n", 2)[0])
	}
	if replays[0] != replays[1] {
		t.Fatalf("replay to checkpoint 1 differs: %q vs %q", replays[0], replays[1])
	}
	out, err = exec.Command(spook, "audit", "proof", "k0-0", "--addr", addrs[1]).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "go.sum database tree") || !strings.Contains(string(out), "proof ") {
		t.Fatalf("spook audit proof k0-0: %v\n%s", err, out)
	}
	procs[1].kill()
	out, err = exec.Command(spook, "audit", "verify", "--data", dirs[1], "--keys", keys).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "verified transactions=") || !strings.Contains(string(out), "ok=true") {
		t.Fatalf("spook audit verify --data: %v\n%s", err, out)
	}
	t.Logf("offline: %s", strings.TrimSpace(string(out)))

	index := tamperRecord(t, filepath.Join(dirs[1], "log"), []byte("audit-value-2-7"))
	out, err = exec.Command(spook, "audit", "verify", "--data", dirs[1], "--keys", keys).CombinedOutput()
	want := fmt.Sprintf("verify failed at record %d ", index)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.HasPrefix(string(out), want) ||
		!(strings.Contains(string(out), "bad signature") || strings.Contains(string(out), "broken chain")) ||
		!strings.Contains(string(out), "ok=false") {
		t.Fatalf("tampered record %d: %v\n%s", index, err, out)
	}
	t.Logf("tampered: %s", strings.TrimSpace(string(out)))
}

// tamperRecord changes the last byte of marker in the log record that
// holds it, recomputes the record's payload CRC (storage's format:
// length u32 | crc32c(payload) u32 | crc32c(the 8 bytes before) u32 |
// payload, after a 24-byte segment header whose bytes 12..20 hold the
// first index), and returns the record's index.
func tamperRecord(t *testing.T, logDir string, marker []byte) uint64 {
	t.Helper()
	table := crc32.MakeTable(crc32.Castagnoli)
	segs, _ := filepath.Glob(filepath.Join(logDir, "*.seg"))
	for _, seg := range segs {
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		index := binary.LittleEndian.Uint64(b[12:20])
		for off := 24; off+12 <= len(b); index++ {
			n := int(binary.LittleEndian.Uint32(b[off:]))
			payload := b[off+12 : off+12+n]
			if i := bytes.Index(payload, marker); i >= 0 {
				payload[i+len(marker)-1] ^= 1
				binary.LittleEndian.PutUint32(b[off+4:], crc32.Checksum(payload, table))
				binary.LittleEndian.PutUint32(b[off+8:], crc32.Checksum(b[off:off+8], table))
				if err := os.WriteFile(seg, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return index
			}
			off += 12 + n
		}
	}
	t.Fatalf("no record holds %q", marker)
	return 0
}
