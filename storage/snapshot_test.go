package storage

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spooksystems/spook/storage/vfs"
)

func TestSnapshotWriteLoad(t *testing.T) {
	for name, env := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			dir := path.Join(path.Dir(env.dir), "snap")
			if snap, skipped, err := LoadSnapshot(env.fs, dir); snap != nil || skipped != nil || err != nil {
				t.Fatalf("no dir: %v %v %v", snap, skipped, err)
			}
			for _, i := range []uint64{5, 9, 14} {
				kept, err := WriteSnapshot(env.fs, dir, i, []byte("state at "+string(rune('0'+i%10))), SnapshotOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if kept[len(kept)-1] != i || len(kept) > SnapshotsKeptDefault {
					t.Fatalf("kept %v", kept)
				}
			}
			names, _ := env.fs.ReadDir(dir)
			if !slices.Equal(names, []string{snapshotName(9), snapshotName(14)}) {
				t.Fatalf("files %v", names)
			}
			snap, skipped, err := LoadSnapshot(env.fs, dir)
			if err != nil || len(skipped) != 0 || snap.Index != 14 || string(snap.Data) != "state at 4" {
				t.Fatalf("Load = %+v %v %v", snap, skipped, err)
			}

			// Damage the newest: Load falls back to the older one and says why.
			b := readAll(t, env.fs, snap.File)
			b[len(b)-1] ^= 1
			rewrite(t, env.fs, snap.File, b)
			rewrite(t, env.fs, path.Join(dir, snapshotName(20)+".tmp"), []byte("partial"))
			snap, skipped, err = LoadSnapshot(env.fs, dir)
			if err != nil || snap.Index != 9 || len(skipped) != 2 {
				t.Fatalf("Load = %+v %v %v", snap, skipped, err)
			}
			for _, e := range skipped {
				if !errors.Is(e, ErrCorrupt) {
					t.Fatalf("skipped %v is not ErrCorrupt", e)
				}
			}
			if !strings.Contains(skipped[1].Error(), "data checksum mismatch") {
				t.Fatalf("skipped %v", skipped)
			}
			// The next write removes the leftover temp file.
			if _, err := WriteSnapshot(env.fs, dir, 21, nil, SnapshotOptions{Kept: 1}); err != nil {
				t.Fatal(err)
			}
			names, _ = env.fs.ReadDir(dir)
			if !slices.Equal(names, []string{snapshotName(21)}) {
				t.Fatalf("files %v", names)
			}
		})
	}
}

func TestSnapshotDecodeRejects(t *testing.T) {
	good := appendSnapshot(nil, 7, []byte("data"))
	if i, d, _, reason := decodeSnapshot(good); reason != "" || i != 7 || string(d) != "data" {
		t.Fatalf("decode good: %d %q %s", i, d, reason)
	}
	for i := range good {
		b := slices.Clone(good)
		b[i] ^= 0x10
		if _, _, _, reason := decodeSnapshot(b); reason == "" {
			t.Fatalf("flip at byte %d accepted", i)
		}
	}
	for n := range len(good) {
		if _, _, _, reason := decodeSnapshot(good[:n]); reason == "" {
			t.Fatalf("truncation to %d bytes accepted", n)
		}
	}
	if _, _, _, reason := decodeSnapshot(append(slices.Clone(good), 0)); reason == "" {
		t.Fatal("trailing byte accepted")
	}
}

func TestSnapshotNameMismatch(t *testing.T) {
	m := vfs.NewMemFS()
	if _, err := WriteSnapshot(m, "/s", 3, []byte("x"), SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename("/s/"+snapshotName(3), "/s/"+snapshotName(4)); err != nil {
		t.Fatal(err)
	}
	snap, skipped, err := LoadSnapshot(m, "/s")
	if snap != nil || len(skipped) != 1 || err != nil || !strings.Contains(skipped[0].Error(), "names index 3") {
		t.Fatalf("Load = %v %v %v", snap, skipped, err)
	}
}

func TestSyncPolicy(t *testing.T) {
	for _, c := range []struct {
		in   string
		want SyncPolicy
	}{{"always", SyncAlways}, {"batch", SyncBatch}, {"", SyncBatch}, {"none", SyncNone}} {
		got, err := ParseSyncPolicy(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v %v", c.in, got, err)
		}
		var p SyncPolicy
		text, _ := c.want.MarshalText()
		if err := p.UnmarshalText(text); err != nil || p != c.want {
			t.Errorf("round trip %v: %v %v", c.want, p, err)
		}
	}
	_, err := ParseSyncPolicy("sometimes")
	if !errors.Is(err, ErrSyncPolicy) || err.Error() != `storage: unknown sync policy "sometimes" (want always, batch or none)` {
		t.Fatalf("Parse(sometimes): %v", err)
	}
	var zero SyncPolicy
	if zero != SyncBatch || zero.String() != "batch" {
		t.Fatal("the zero SyncPolicy must be batch")
	}
}

func TestStore(t *testing.T) {
	for name, env := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			dir := path.Dir(env.dir)
			opts := StoreOptions{Log: LogOptions{MaxSegmentBytes: 200}}
			s, err := OpenStore(env.fs, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := uint64(1); i <= 100; i++ {
				s.Log().Append(payloadFor(i))
				if i%30 == 0 {
					if err := s.WriteSnapshot(i, []byte{byte(i)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := s.WriteSnapshot(101, nil); !errors.Is(err, ErrOptions) {
				t.Fatalf("snapshot beyond the log: %v", err)
			}
			if snap := s.Snapshot(); snap == nil || snap.Index != 90 {
				t.Fatalf("Snapshot after WriteSnapshot: %+v", snap)
			}
			var replayed []logRecord
			if err := s.Replay(func(index uint64, payload []byte) error {
				replayed = append(replayed, logRecord{index, slices.Clone(payload)})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			checkRecords(t, replayed, 91, 100)
			// Snapshots at 60 and 90 are kept; the log reaches back to 61.
			if first := s.Log().FirstIndex(); first > 61 || first < 31 {
				t.Fatalf("log FirstIndex %d", first)
			}
			s.Close()

			s, err = OpenStore(env.fs, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			if snap := s.Snapshot(); snap == nil || snap.Index != 90 || snap.Data[0] != 90 {
				t.Fatalf("snapshot %+v", snap)
			}
			var got []logRecord
			s.Replay(func(index uint64, payload []byte) error {
				got = append(got, logRecord{index, slices.Clone(payload)})
				return nil
			})
			checkRecords(t, got, 91, 100)
			s.ReleaseSnapshotData()
			if snap := s.Snapshot(); snap.Index != 90 || snap.Data != nil {
				t.Fatalf("after ReleaseSnapshotData: %+v", snap)
			}
			got = nil
			s.Replay(func(index uint64, payload []byte) error {
				got = append(got, logRecord{index, slices.Clone(payload)})
				return nil
			})
			checkRecords(t, got, 91, 100)
			s.Close()

			// Damage the newest snapshot: the store falls back to the one
			// at 60 and the log still holds everything after it.
			snapFile := path.Join(dir, "snap", snapshotName(90))
			b := readAll(t, env.fs, snapFile)
			b[snapshotHeaderBytes] ^= 1
			rewrite(t, env.fs, snapFile, b)
			s, err = OpenStore(env.fs, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			if s.Snapshot().Index != 60 || len(s.SkippedSnapshots()) != 1 {
				t.Fatalf("fallback: %+v %v", s.Snapshot(), s.SkippedSnapshots())
			}
			got = nil
			s.Replay(func(index uint64, payload []byte) error {
				got = append(got, logRecord{index, slices.Clone(payload)})
				return nil
			})
			checkRecords(t, got, 61, 100)
			s.Close()
		})
	}
}

func TestStoreRefusesLogAfterMissingSnapshot(t *testing.T) {
	m := vfs.NewMemFS()
	s, err := OpenStore(m, "/d", StoreOptions{Log: LogOptions{MaxSegmentBytes: 100}, Snapshot: SnapshotOptions{Kept: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 50; i++ {
		s.Log().Append(payloadFor(i))
	}
	if err := s.WriteSnapshot(40, []byte("s")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := m.Remove("/d/snap/" + snapshotName(40)); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(m, "/d", StoreOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OpenStore without the snapshot the log was trimmed for: %v", err)
	}
}

func TestStoreLocksDirectory(t *testing.T) {
	for name, env := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			dir := path.Dir(env.dir)
			s, err := OpenStore(env.fs, dir, StoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := OpenStore(env.fs, dir, StoreOptions{}); !errors.Is(err, vfs.ErrLocked) {
				t.Fatalf("second OpenStore: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = OpenStore(env.fs, dir, StoreOptions{})
			if err != nil {
				t.Fatalf("OpenStore after Close: %v", err)
			}
			s.Close()
		})
	}
}

// TestStoreKeepLog: with KeepLog, snapshots no longer trim the log (audit
// mode's history), a reopened store still replays only what follows the
// newest snapshot, and the whole history stays readable from record 1.
func TestStoreKeepLog(t *testing.T) {
	fsys := vfs.NewMemFS()
	opts := StoreOptions{Log: LogOptions{MaxSegmentBytes: 200}, KeepLog: true}
	s, err := OpenStore(fsys, "/d", opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 100; i++ {
		s.Log().Append(payloadFor(i))
		if i%30 == 0 {
			if err := s.WriteSnapshot(i, []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Close()
	s, err = OpenStore(fsys, "/d", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if first := s.Log().FirstIndex(); first != 1 {
		t.Fatalf("log FirstIndex %d, want 1", first)
	}
	var replayed, all []logRecord
	s.Replay(func(index uint64, payload []byte) error {
		replayed = append(replayed, logRecord{index, slices.Clone(payload)})
		return nil
	})
	checkRecords(t, replayed, 91, 100)
	s.Log().Iterate(1, func(index uint64, payload []byte) error {
		all = append(all, logRecord{index, slices.Clone(payload)})
		return nil
	})
	checkRecords(t, all, 1, 100)
}

// TestStoreTrimLogArchive: TrimLog (audit retention) archives each
// segment through keep before removing it, never trims past the oldest
// snapshot kept, and the archive, opened as a log, holds records 1.. up
// to where the live log starts; both reopen on real files.
func TestStoreTrimLogArchive(t *testing.T) {
	dir, archive := t.TempDir(), t.TempDir()
	fsys := vfs.OS{}
	opts := StoreOptions{Log: LogOptions{MaxSegmentBytes: 200}, KeepLog: true, Snapshot: SnapshotOptions{Kept: 2}}
	s, err := OpenStore(fsys, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	keep := func(p string) error {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return writeFileSynced(fsys, filepath.Join(archive, filepath.Base(p)), data)
	}
	if first, err := s.TrimLog(50, keep); err != nil || first != 1 {
		t.Fatalf("no snapshot yet: trimmed to %d, %v", first, err)
	}
	for i := uint64(1); i <= 100; i++ {
		s.Log().Append(payloadFor(i))
		if i == 40 || i == 70 {
			if err := s.WriteSnapshot(i, []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	first, err := s.TrimLog(90, keep)
	if err != nil || first <= 1 || first > 41 {
		t.Fatalf("trimmed to %d (oldest snapshot 40), %v", first, err)
	}
	s.Close()
	s, err = OpenStore(fsys, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Log().FirstIndex() != first {
		t.Fatalf("reopened log starts at %d, want %d", s.Log().FirstIndex(), first)
	}
	a, err := OpenLog(fsys, archive, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var got []logRecord
	a.Iterate(1, func(index uint64, payload []byte) error {
		got = append(got, logRecord{index, slices.Clone(payload)})
		return nil
	})
	checkRecords(t, got, 1, first-1)
}
