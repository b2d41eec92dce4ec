package storage

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/spooksystems/spook/storage/vfs"
)

func payloadFor(index uint64) []byte {
	return []byte(fmt.Sprintf("record-%d-%s", index, strings.Repeat("x", int(index%23))))
}

type logRecord struct {
	index   uint64
	payload []byte
}

func readLog(t *testing.T, l *Log, from uint64) []logRecord {
	t.Helper()
	var out []logRecord
	if err := l.Iterate(from, func(index uint64, payload []byte) error {
		out = append(out, logRecord{index, bytes.Clone(payload)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkRecords(t *testing.T, got []logRecord, first, last uint64) {
	t.Helper()
	if uint64(len(got)) != last-first+1 {
		t.Fatalf("got %d records, want %d..%d", len(got), first, last)
	}
	for i, r := range got {
		if r.index != first+uint64(i) || !bytes.Equal(r.payload, payloadFor(r.index)) {
			t.Fatalf("record %d: index %d payload %q", i, r.index, r.payload)
		}
	}
}

func filesystems(t *testing.T) map[string]struct {
	fs  vfs.FS
	dir string
} {
	return map[string]struct {
		fs  vfs.FS
		dir string
	}{
		"OS":    {vfs.OS{}, path.Join(t.TempDir(), "log")},
		"MemFS": {vfs.NewMemFS(), "/data/log"},
	}
}

func TestLogAppendReopen(t *testing.T) {
	for name, env := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			opts := LogOptions{MaxSegmentBytes: 200}
			l, err := OpenLog(env.fs, env.dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			if l.FirstIndex() != 1 || l.LastIndex() != 0 {
				t.Fatalf("empty log: first %d last %d", l.FirstIndex(), l.LastIndex())
			}
			for i := uint64(1); i <= 100; i++ {
				got, err := l.Append(payloadFor(i))
				if err != nil || got != i {
					t.Fatalf("Append = %d, %v; want %d", got, err, i)
				}
				if i%7 == 0 {
					if err := l.Sync(); err != nil {
						t.Fatal(err)
					}
					if l.SyncedIndex() != i {
						t.Fatalf("SyncedIndex %d after Sync at %d", l.SyncedIndex(), i)
					}
				}
			}
			checkRecords(t, readLog(t, l, 1), 1, 100)
			checkRecords(t, readLog(t, l, 57), 57, 100)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Append([]byte("x")); !errors.Is(err, ErrClosed) {
				t.Fatalf("Append after Close: %v", err)
			}
			names, _ := env.fs.ReadDir(env.dir)
			if len(names) < 10 {
				t.Fatalf("200-byte segments should roll many times; files %v", names)
			}

			l, err = OpenLog(env.fs, env.dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			if r := l.Recovery(); r != (RecoveryReport{}) {
				t.Fatalf("clean reopen repaired something: %+v", r)
			}
			checkRecords(t, readLog(t, l, 1), 1, 100)
			if i, err := l.Append(payloadFor(101)); err != nil || i != 101 {
				t.Fatalf("Append after reopen = %d %v", i, err)
			}
			if err := l.TruncateFront(50); err != nil {
				t.Fatal(err)
			}
			first := l.FirstIndex()
			if first > 50 || first < 40 {
				t.Fatalf("FirstIndex %d after TruncateFront(50)", first)
			}
			if err := l.Iterate(first-1, func(uint64, []byte) error { return nil }); !errors.Is(err, ErrCompacted) {
				t.Fatalf("Iterate below first: %v", err)
			}
			l.Close()
			l, err = OpenLog(env.fs, env.dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.FirstIndex() != first {
				t.Fatalf("FirstIndex %d after reopen, want %d", l.FirstIndex(), first)
			}
			checkRecords(t, readLog(t, l, first), first, 101)
		})
	}
}

func TestLogTruncateFrontEverythingButActive(t *testing.T) {
	l, err := OpenLog(vfs.NewMemFS(), "/log", LogOptions{MaxSegmentBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 30; i++ {
		l.Append(payloadFor(i))
	}
	if err := l.TruncateFront(1000); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, l, l.FirstIndex()); len(got) == 0 || got[len(got)-1].index != 30 {
		t.Fatalf("the active segment must survive: %v", got)
	}
}

func TestLogFirstIndexOption(t *testing.T) {
	m := vfs.NewMemFS()
	l, err := OpenLog(m, "/log", LogOptions{FirstIndex: 42})
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := l.Append(payloadFor(42)); i != 42 {
		t.Fatalf("first Append got index %d, want 42", i)
	}
	l.Close()
	l, err = OpenLog(m, "/log", LogOptions{FirstIndex: 7}) // ignored: the log exists
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readLog(t, l, 42), 42, 42)
}

func TestLogRecordLimits(t *testing.T) {
	l, err := OpenLog(vfs.NewMemFS(), "/log", LogOptions{MaxRecordBytes: 10, MaxSegmentBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(make([]byte, 11)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("oversized Append: %v", err)
	}
	if _, err := l.Append(make([]byte, 10)); err != nil {
		t.Fatalf("the log must stay usable after ErrRecordTooLarge: %v", err)
	}
	if _, err := l.Append(nil); err != nil {
		t.Fatalf("empty record: %v", err)
	}
	for _, bad := range []LogOptions{{MaxSegmentBytes: 10}, {MaxRecordBytes: -1}, {MaxRecordBytes: 1 << 31}} {
		if _, err := OpenLog(vfs.NewMemFS(), "/log", bad); !errors.Is(err, ErrOptions) {
			t.Errorf("options %+v: %v", bad, err)
		}
	}
}

// Fail-stop: one failed fsync fails the log for good, even though the
// next fsync would succeed.
func TestLogStickyError(t *testing.T) {
	m := vfs.NewMemFS()
	e := vfs.NewErrorFS(m, vfs.Injection{})
	l, err := OpenLog(e, "/log", LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Append(payloadFor(1))
	e.SetInjection(vfs.Injection{Ops: vfs.OpSync, At: 1})
	err = l.Sync()
	if !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("Sync: %v", err)
	}
	if _, err2 := l.Append(payloadFor(2)); !errors.Is(err2, vfs.ErrInjected) {
		t.Fatalf("Append after a failed Sync: %v", err2)
	}
	if err2 := l.Sync(); err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("Sync after a failed Sync: %v, want the first error %v", err2, err)
	}
	if l.Err() == nil || l.SyncedIndex() != 0 {
		t.Fatalf("Err %v SyncedIndex %d", l.Err(), l.SyncedIndex())
	}
	if err2 := l.TruncateFront(1); err2 == nil {
		t.Fatal("TruncateFront on a failed log succeeded")
	}
}

func TestLogConcurrentAppendSync(t *testing.T) {
	l, err := OpenLog(vfs.NewMemFS(), "/log", LogOptions{MaxSegmentBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		for i := 0; i < 200; i++ {
			if err := l.Sync(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := uint64(1); i <= 500; i++ {
		if _, err := l.Append(payloadFor(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil || l.SyncedIndex() != 500 {
		t.Fatalf("Sync %v SyncedIndex %d", err, l.SyncedIndex())
	}
	checkRecords(t, readLog(t, l, 1), 1, 500)
}

func TestLogIterateDetectsDamageAfterOpen(t *testing.T) {
	m := vfs.NewMemFS()
	l, err := OpenLog(m, "/log", LogOptions{MaxSegmentBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 40; i++ {
		l.Append(payloadFor(i))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	name := "/log/" + segmentName(1)
	b := readAll(t, m, name)
	b[len(b)-1] ^= 1 // bit rot under a running log
	rewrite(t, m, name, b)
	err = l.Iterate(1, func(uint64, []byte) error { return nil })
	var corrupt *CorruptionError
	if !errors.As(err, &corrupt) || corrupt.File != name {
		t.Fatalf("Iterate over a damaged segment: %v", err)
	}
}

// Flush hands records to the OS without an fsync: a process crash keeps
// them (reopening the same FS sees them), a power loss may not.
func TestLogFlush(t *testing.T) {
	m := vfs.NewMemFS()
	l, err := OpenLog(m, "/log", LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 3; i++ {
		l.Append(payloadFor(i))
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if l.SyncedIndex() != 0 {
		t.Fatalf("Flush claimed durability: SyncedIndex %d", l.SyncedIndex())
	}
	reopened, err := OpenLog(m, "/log", LogOptions{}) // the process died; the OS did not
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readLog(t, reopened, 1), 1, 3)
}

// TestLogSegments: Segments lists every segment in index order, each
// with its first and last index and its size, the sizes summing to the
// files' and the indexes covering the log without gaps.
func TestLogSegments(t *testing.T) {
	for name, f := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			l, err := OpenLog(f.fs, f.dir, LogOptions{MaxSegmentBytes: 100})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for i := uint64(1); i <= 30; i++ {
				if _, err := l.Append(payloadFor(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			segs := l.Segments()
			if len(segs) < 3 {
				t.Fatalf("%d segments for 30 records in 100-byte segments", len(segs))
			}
			next := uint64(1)
			for _, s := range segs {
				if s.FirstIndex != next || s.LastIndex < s.FirstIndex {
					t.Fatalf("segment %+v after record %d", s, next-1)
				}
				st, err := f.fs.Stat(s.Path)
				if err != nil || st.SizeBytes != s.SizeBytes {
					t.Fatalf("segment %+v: file %+v %v", s, st, err)
				}
				next = s.LastIndex + 1
			}
			if next != 31 {
				t.Fatalf("segments end at record %d, want 30", next-1)
			}
			if err := l.TruncateFront(segs[1].FirstIndex); err != nil {
				t.Fatal(err)
			}
			if got := l.Segments(); len(got) != len(segs)-1 || got[0] != segs[1] {
				t.Fatalf("after TruncateFront: %+v", got)
			}
		})
	}
}
