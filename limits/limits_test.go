package limits

import (
	"errors"
	"testing"
)

func TestTableNests(t *testing.T) {
	if err := Check(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckCatchesBadTables breaks each rule in turn and expects Check's
// logic to name it.
func TestCheckCatchesBadTables(t *testing.T) {
	good := table{
		value: MaxValueBytes, txn: MaxTxnBytes, record: MaxRecordBytes, frame: MaxFrameBytes,
		recordHeader: RecordHeaderBytes, messageHeader: MessageHeaderBytes, chunkHeader: ChunkHeaderBytes,
		repairChunk: MaxRepairChunkBytes, repairStaged: MaxRepairStagedBytes,
		snapshotChunk: MaxSnapshotChunkBytes, window: MinPeerWindowBytes,
	}
	if err := check(good); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*table){
		"value above txn":            func(t *table) { t.value = t.txn + 1 },
		"txn fills record":           func(t *table) { t.txn = t.record },
		"record fills frame":         func(t *table) { t.record = t.frame },
		"repair chunk too big":       func(t *table) { t.repairChunk = t.record },
		"snapshot chunk too big":     func(t *table) { t.snapshotChunk = t.frame },
		"window below a frame":       func(t *table) { t.window = t.frame },
		"staging below a record":     func(t *table) { t.repairStaged = t.record - 1 },
		"16 MiB value, 16 MiB frame": func(t *table) { t.value, t.txn, t.record = 16<<20, 16<<20, 16<<20 },
	}
	for name, mutate := range bad {
		tb := good
		mutate(&tb)
		if err := check(tb); !errors.Is(err, ErrNesting) {
			t.Errorf("%s: check = %v, want ErrNesting", name, err)
		}
	}
}

// TestFigures pins the documented figures (doc.go, docs/protocol.md).
func TestFigures(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"MaxValueBytes", MaxValueBytes, 8 << 20},
		{"MaxTxnBytes", MaxTxnBytes, 12 << 20},
		{"MaxRecordBytes", MaxRecordBytes, 12<<20 + 64<<10},
		{"MaxFrameBytes", MaxFrameBytes, 16 << 20},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}
