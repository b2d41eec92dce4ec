package node

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/storage"
)

// startRetentionNode starts a single audit-mode node on dir with real
// fsyncs, small log segments, frequent snapshots and checkpoints, and
// retention pol (applied only when the test calls ApplyAuditRetention:
// the interval is long).
func startRetentionNode(t *testing.T, dir, keys string, pol AuditRetention) *Node {
	t.Helper()
	return startRetentionNodeClock(t, dir, keys, pol, nil)
}

// startRetentionNodeClock is startRetentionNode with the node's wall
// clock now (nil: the real one).
func startRetentionNodeClock(t *testing.T, dir, keys string, pol AuditRetention, now func() time.Time) *Node {
	t.Helper()
	k, err := AuditKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := PublishAuditKey(keys, "r", k.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	pol.Interval = time.Hour
	cfg := Config{Name: "r", Listen: freeAddrs(t, 1)[0], Fsync: storage.SyncAlways, DataDir: dir, AuditKeysDir: keys,
		AuditRetention: pol, SnapshotEveryRecords: 8, logSegmentBytes: 2048,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg.Replica.Audit.CheckpointTicks = 5
	cfg.now = now
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// writeCheckpointed writes rounds of keys k<round>-<i>, waiting after
// each round for a checkpoint that covers it; it returns the checkpoint
// count.
func writeCheckpointed(t *testing.T, ctx context.Context, n *Node, rounds int) uint64 {
	t.Helper()
	return writeRounds(t, ctx, n, 0, rounds)
}

// writeRounds is writeCheckpointed for rounds from..to-1.
func writeRounds(t *testing.T, ctx context.Context, n *Node, from, to int) uint64 {
	t.Helper()
	for r := from; r < to; r++ {
		for i := 0; i < 6; i++ {
			key := fmt.Sprintf("k%d-%d", r, i)
			if _, err := n.Update(ctx, func(tx *crdt.Builder) error { return tx.Set([]byte(key), []byte(strings.Repeat("v", 40))) }); err != nil {
				t.Fatal(err)
			}
		}
		for {
			var p InclusionProof
			if getAuditJSON(t, n, fmt.Sprintf("/v1/audit/proof?key=k%d-5", r), &p) == http.StatusOK {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("round %d never checkpointed", r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	v, err := n.auditHistory(false)
	if err != nil {
		t.Fatal(err)
	}
	return v.Report().LastIndex
}

// TestAuditRetentionCheckpoints: under checkpoints=2 a node drops the
// records of older checkpoints once snapshots cover them (real files,
// fsync always); online and offline verify still say ok and name the
// range they read; a proof of a dropped transaction fails saying so; a
// proof of a kept one and a consistency proof from checkpoint 1 still
// check with tlog; replay refuses clearly; the node restarts on the
// trimmed directory and keeps verifying.
func TestAuditRetentionCheckpoints(t *testing.T) {
	dir, keys := t.TempDir(), t.TempDir()
	n := startRetentionNode(t, dir, keys, AuditRetention{Checkpoints: 2})
	defer func() { n.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	last := writeCheckpointed(t, ctx, n, 6)
	var before AuditReport
	getAuditJSON(t, n, "/v1/audit/verify", &before)
	rep, err := n.ApplyAuditRetention()
	if err != nil {
		t.Fatal(err)
	}
	if rep.BaseRecord == 0 || rep.FirstRecord <= 1 || rep.BaseCheckpoint == 0 || rep.BaseCheckpoint > last-2 {
		t.Fatalf("retention did nothing useful: %+v (last checkpoint %d)", rep, last)
	}
	if first := n.store.Log().FirstIndex(); first != rep.FirstRecord {
		t.Fatalf("log starts at %d, report says %d", first, rep.FirstRecord)
	}
	var after AuditReport
	getAuditJSON(t, n, "/v1/audit/verify", &after)
	if !after.OK || after.BaseRecord != rep.BaseRecord || after.FromRecord != rep.BaseRecord+1 || after.LastRecord < after.FromRecord ||
		after.Transactions != before.Transactions || after.Checkpoints != before.Checkpoints || after.TreeSize != before.TreeSize {
		t.Fatalf("verify after retention %+v, before %+v", after, before)
	}
	var e AuditReport
	if st := getAuditJSON(t, n, "/v1/audit/proof?key=k0-0", &e); st != http.StatusNotFound || !strings.Contains(e.Error, "dropped by retention") {
		t.Fatalf("proof of a dropped transaction: %d %+v", st, e)
	}
	var p InclusionProof
	if st := getAuditJSON(t, n, "/v1/audit/proof?key=k5-5", &p); st != http.StatusOK {
		t.Fatalf("proof of a kept transaction: %d", st)
	}
	tree, err := tlog.ParseTree([]byte(p.Note))
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(p.Proof, tree.N, tree.Hash, p.LeafIndex, tlog.RecordHash(p.Leaf)); err != nil {
		t.Fatal(err)
	}
	var cons ConsistencyProof
	if st := getAuditJSON(t, n, fmt.Sprintf("/v1/audit/proof?from=1&to=%d", last), &cons); st != http.StatusOK {
		t.Fatalf("consistency 1→%d: %d", last, st)
	}
	from, _ := tlog.ParseTree([]byte(cons.FromNote))
	to, _ := tlog.ParseTree([]byte(cons.ToNote))
	if err := tlog.CheckTree(cons.Proof, to.N, to.Hash, from.N, from.Hash); err != nil {
		t.Fatal(err)
	}
	if st := getAuditJSON(t, n, "/v1/audit/replay?to=1", &e); st != http.StatusNotFound || !strings.Contains(e.Error, "retention") {
		t.Fatalf("replay of a dropped checkpoint: %d %+v", st, e)
	}
	n.Close()
	off, err := VerifyDataDir(dir, keys)
	if err != nil || off.BaseRecord != rep.BaseRecord || off.Checkpoints != before.Checkpoints || off.Size != before.TreeSize {
		t.Fatalf("offline verify: %+v %v", off, err)
	}
	n = startRetentionNode(t, dir, keys, AuditRetention{Checkpoints: 2})
	writeCheckpointed(t, ctx, n, 1)
	getAuditJSON(t, n, "/v1/audit/verify", &after)
	if !after.OK || after.BaseRecord != rep.BaseRecord || after.Checkpoints <= before.Checkpoints {
		t.Fatalf("verify after a restart: %+v", after)
	}
	// A damaged base is a failure, not a silent restart from record 1.
	n.Close()
	base := filepath.Join(dir, AuditBaseFile)
	data, _ := os.ReadFile(base)
	data[len(data)/2] ^= 1
	if err := os.WriteFile(base, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDataDir(dir, keys); err == nil || !strings.Contains(err.Error(), "retention base") {
		t.Fatalf("damaged base: %v", err)
	}
}

// TestAuditRetentionArchive: under archive=DIR the dropped segments go
// to DIR; spook audit verify --data --archive reads them and the log and
// checks the whole history from record 1; the node still proves and
// replays dropped transactions from the archive; verify without the
// archive starts from the base.
func TestAuditRetentionArchive(t *testing.T) {
	dir, keys, archive := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "archive")
	n := startRetentionNode(t, dir, keys, AuditRetention{ArchiveDir: archive})
	defer func() { n.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	writeCheckpointed(t, ctx, n, 5)
	var before AuditReport
	getAuditJSON(t, n, "/v1/audit/verify", &before)
	rep, err := n.ApplyAuditRetention()
	if err != nil || rep.Archived == 0 || rep.FirstRecord <= 1 {
		t.Fatalf("archive: %+v %v", rep, err)
	}
	var p InclusionProof
	if st := getAuditJSON(t, n, "/v1/audit/proof?key=k0-0", &p); st != http.StatusOK {
		t.Fatalf("proof of an archived transaction: %d", st)
	}
	var rr ReplayReport
	if st := getAuditJSON(t, n, "/v1/audit/replay?to=1", &rr); st != http.StatusOK {
		t.Fatalf("replay from the archive: %d", st)
	}
	n.Close()
	full, err := VerifyDataDirArchive(dir, keys, archive)
	if err != nil || full.BaseRecord != 0 || full.Transactions != before.Transactions || full.Checkpoints != before.Checkpoints {
		t.Fatalf("verify --archive: %+v %v (before %+v)", full, err, before)
	}
	kept, err := VerifyDataDir(dir, keys)
	if err != nil || kept.BaseRecord == 0 || kept.Transactions != before.Transactions {
		t.Fatalf("verify without the archive: %+v %v", kept, err)
	}
	// Without its archive, a trimmed log is not the whole history.
	os.Remove(filepath.Join(dir, AuditBaseFile))
	if _, err := VerifyDataDir(dir, keys); err == nil || !strings.Contains(err.Error(), "dropped") {
		t.Fatalf("trimmed log without base or archive: %v", err)
	}
}

// TestAuditRetentionAge: under days=7 a node drops the log segments last
// written more than 7 days ago, by its clock, up to the newest checkpoint
// they hold, and keeps every record written since. The test writes three
// rounds, notes the time, writes three more, then moves the node's clock
// 7 days past the noted time: the first rounds' segments are now older
// than 7 days, the later ones younger. Verify (online, then offline) still
// says ok and starts from the base; the later rounds' transactions still
// prove.
func TestAuditRetentionAge(t *testing.T) {
	dir, keys := t.TempDir(), t.TempDir()
	var shift atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	n := startRetentionNodeClock(t, dir, keys, AuditRetention{MaxAge: 7 * 24 * time.Hour}, clock)
	defer func() { n.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// Five rounds: a segment's time is when it was last written, which
	// for all but the active one is when the next record rolled it, so
	// the segment holding the last old records counts as new. Enough old
	// rounds leave whole old segments, rolled before the noted time, with
	// a checkpoint after the first of them.
	writeCheckpointed(t, ctx, n, 5)
	noted, lastOld := time.Now(), n.store.Log().LastIndex()
	time.Sleep(50 * time.Millisecond) // past the file system's timestamp granularity
	var newer []string
	for r := 5; r < 8; r++ {
		for i := 0; i < 6; i++ {
			newer = append(newer, fmt.Sprintf("k%d-%d", r, i))
		}
	}
	writeRounds(t, ctx, n, 5, 8)
	if rep, err := n.ApplyAuditRetention(); err != nil || rep.BaseRecord != 0 {
		t.Fatalf("nothing is 7 days old yet, but retention did %+v %v", rep, err)
	}
	var before AuditReport
	getAuditJSON(t, n, "/v1/audit/verify", &before)
	shift.Store(int64(noted.Add(7*24*time.Hour + 5*time.Millisecond).Sub(time.Now())))
	rep, err := n.ApplyAuditRetention()
	shift.Store(0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BaseRecord == 0 || rep.BaseRecord > lastOld || rep.FirstRecord <= 1 || rep.FirstRecord > lastOld+1 {
		t.Fatalf("retention by age: %+v; records up to %d were written before the noted time", rep, lastOld)
	}
	var after AuditReport
	getAuditJSON(t, n, "/v1/audit/verify", &after)
	if !after.OK || after.BaseRecord != rep.BaseRecord || after.Transactions != before.Transactions || after.Checkpoints != before.Checkpoints {
		t.Fatalf("verify after retention %+v, before %+v", after, before)
	}
	var e AuditReport
	if st := getAuditJSON(t, n, "/v1/audit/proof?key=k0-0", &e); st != http.StatusNotFound || !strings.Contains(e.Error, "dropped by retention") {
		t.Fatalf("proof of a transaction older than 7 days: %d %+v", st, e)
	}
	for _, key := range newer {
		var p InclusionProof
		if st := getAuditJSON(t, n, "/v1/audit/proof?key="+key, &p); st != http.StatusOK {
			t.Fatalf("proof of %s, written less than 7 days ago: %d", key, st)
		}
	}
	n.Close()
	off, err := VerifyDataDir(dir, keys)
	if err != nil || off.BaseRecord != rep.BaseRecord || off.Checkpoints != before.Checkpoints {
		t.Fatalf("offline verify: %+v %v", off, err)
	}
}

// TestAuditRetentionBytes: under archive=DIR,bytes=B a node keeps at
// most B bytes of log segments (here the records it must keep fit), moves
// the others to DIR, and verify still says ok from the base, and from
// record 1 with the archive.
func TestAuditRetentionBytes(t *testing.T) {
	const bound = 6 << 10 // three 2 KiB segments
	dir, keys, archive := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "archive")
	n := startRetentionNode(t, dir, keys, AuditRetention{MaxBytes: bound, ArchiveDir: archive})
	defer func() { n.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	writeCheckpointed(t, ctx, n, 6)
	logBytes := func() (total int64) {
		for _, s := range n.store.Log().Segments() {
			total += s.SizeBytes
		}
		return total
	}
	if b := logBytes(); b <= bound {
		t.Fatalf("the log holds %d bytes, not above the bound %d: the test proves nothing", b, bound)
	}
	var before AuditReport
	getAuditJSON(t, n, "/v1/audit/verify", &before)
	rep, err := n.ApplyAuditRetention()
	if err != nil || rep.BaseRecord == 0 || rep.Archived == 0 {
		t.Fatalf("retention by bytes: %+v %v", rep, err)
	}
	if b := logBytes(); b > bound {
		t.Fatalf("the log holds %d bytes after retention, above the bound %d (%+v)", b, bound, rep)
	}
	var after AuditReport
	getAuditJSON(t, n, "/v1/audit/verify", &after)
	if !after.OK || after.BaseRecord != rep.BaseRecord || after.Transactions != before.Transactions {
		t.Fatalf("verify after retention %+v, before %+v", after, before)
	}
	n.Close()
	if off, err := VerifyDataDir(dir, keys); err != nil || off.BaseRecord != rep.BaseRecord || off.Transactions != before.Transactions {
		t.Fatalf("offline verify: %+v %v", off, err)
	}
	if full, err := VerifyDataDirArchive(dir, keys, archive); err != nil || full.BaseRecord != 0 || full.Transactions != before.Transactions {
		t.Fatalf("verify --archive: %+v %v", full, err)
	}
}
