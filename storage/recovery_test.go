package storage

import (
	"errors"
	"io"
	"path"
	"strings"
	"testing"

	"github.com/spooksystems/spook/storage/vfs"
)

// writeLog makes a log in /log with records 1..n in 256-byte segments and
// returns the segment paths.
func writeLog(t *testing.T, m *vfs.MemFS, n uint64) []string {
	return writeLogSegments(t, m, n, 256)
}

func writeLogSegments(t *testing.T, m *vfs.MemFS, n uint64, maxSegmentBytes int64) []string {
	t.Helper()
	l, err := OpenLog(m, "/log", LogOptions{MaxSegmentBytes: maxSegmentBytes})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= n; i++ {
		if _, err := l.Append(payloadFor(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := m.ReadDir("/log")
	for i := range names {
		names[i] = path.Join("/log", names[i])
	}
	return names
}

func readAll(t *testing.T, fsys vfs.FS, name string) []byte {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rewrite(t *testing.T, fsys vfs.FS, name string, b []byte) {
	t.Helper()
	if err := writeFileSynced(fsys, name, b); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryRefusesCorruptMiddle(t *testing.T) {
	cases := []struct {
		name    string
		segment func(segs []string) string // which segment to damage
		offset  func(b []byte) int         // which byte
		reason  string
	}{
		{"payload of first record, non-last segment", func(s []string) string { return s[0] },
			func([]byte) int { return segmentHeaderBytes + recordHeaderBytes + 2 }, "checksum mismatch"},
		{"length of first record, non-last segment", func(s []string) string { return s[0] },
			func([]byte) int { return segmentHeaderBytes + 3 }, "header checksum mismatch"},
		{"payload of first record, only segment", func(s []string) string { return s[len(s)-1] },
			func([]byte) int { return segmentHeaderBytes + recordHeaderBytes + 2 }, "checksum mismatch followed by valid records"},
		{"header of a non-last segment", func(s []string) string { return s[1] },
			func([]byte) int { return 1 }, "bad magic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := vfs.NewMemFS()
			maxSegmentBytes := int64(256)
			if strings.Contains(c.name, "only segment") {
				maxSegmentBytes = 1 << 20
			}
			segs := writeLogSegments(t, m, 60, maxSegmentBytes)
			target := c.segment(segs)
			b := readAll(t, m, target)
			off := c.offset(b)
			b[off] ^= 0x80
			rewrite(t, m, target, b)
			_, err := OpenLog(m, "/log", LogOptions{MaxSegmentBytes: maxSegmentBytes})
			var corrupt *CorruptionError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &corrupt) {
				t.Fatalf("OpenLog: %v, want ErrCorrupt", err)
			}
			if corrupt.File != target || !strings.Contains(corrupt.Reason, c.reason) {
				t.Fatalf("error %q: want file %s, reason %q", err, target, c.reason)
			}
			wantOff := int64(segmentHeaderBytes)
			if c.reason == "bad magic" {
				wantOff = 0
			}
			if corrupt.OffsetBytes != wantOff {
				t.Fatalf("error %q: offset %d, want %d", err, corrupt.OffsetBytes, wantOff)
			}
			if !strings.HasPrefix(err.Error(), "storage: corrupt ") || !strings.Contains(err.Error(), target) {
				t.Fatalf("message %q does not name the file", err)
			}
		})
	}
}

func TestRecoveryTruncatesTornTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
		reason string
	}{
		{"cut inside the last record", func(b []byte) []byte { return b[:len(b)-3] }, "truncated record"},
		{"cut inside a record header", func(b []byte) []byte {
			return append(b, 1, 2, 3)
		}, "truncated record header"},
		{"garbled last record", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "checksum mismatch"},
		{"zeroed tail", func(b []byte) []byte { return append(b, make([]byte, 700)...) }, "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := vfs.NewMemFS()
			segs := writeLog(t, m, 60)
			last := segs[len(segs)-1]
			orig := readAll(t, m, last)
			damaged := tc.damage(append([]byte(nil), orig...))
			rewrite(t, m, last, damaged)
			l, err := OpenLog(m, "/log", LogOptions{MaxSegmentBytes: 256})
			if err != nil {
				t.Fatal(err)
			}
			r := l.Recovery()
			if r.TruncatedFile != last || !strings.Contains(r.TornReason, tc.reason) {
				t.Fatalf("report %+v, want a cut of %s (%s)", r, last, tc.reason)
			}
			got := readLog(t, l, 1)
			lastIndex := uint64(len(got))
			checkRecords(t, got, 1, lastIndex)
			if lastIndex < 58 || lastIndex > 60 {
				t.Fatalf("kept %d records", lastIndex)
			}
			l.Close()
			if n := len(readAll(t, m.Crash(1), last)); n > len(orig) {
				t.Fatalf("the cut was not synced: %d bytes after a crash", n)
			}
			l, err = OpenLog(m, "/log", LogOptions{MaxSegmentBytes: 256})
			if err != nil || l.Recovery() != (RecoveryReport{}) {
				t.Fatalf("second open: %v %+v", err, l.Recovery())
			}
			l.Close()
		})
	}
}

func TestRecoveryRefusesLengthAboveLimit(t *testing.T) {
	m := vfs.NewMemFS()
	writeLog(t, m, 10)
	_, err := OpenLog(m, "/log", LogOptions{MaxSegmentBytes: 256, MaxRecordBytes: 5})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "impossible length") {
		t.Fatalf("reopen with a smaller MaxRecordBytes: %v", err)
	}
}

// A torn record whose payload itself holds a valid frame (a client can
// store any bytes) is refused, not truncated: recovery cannot tell it
// from damage, and it fails safe. This pins that documented behaviour.
func TestRecoveryFramesInsidePayloadFailSafe(t *testing.T) {
	m := vfs.NewMemFS()
	l, err := OpenLog(m, "/log", LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Append(payloadFor(1))
	inner := appendRecord(nil, []byte("forged"))
	l.Append(append(append([]byte("xx"), inner...), make([]byte, 20)...))
	l.Close()
	seg := "/log/" + segmentName(1)
	b := readAll(t, m, seg)
	rewrite(t, m, seg, b[:len(b)-10]) // tear the second record
	_, err = OpenLog(m, "/log", LogOptions{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OpenLog: %v", err)
	}
}

func TestRecoveryRemovesTornHeaderSegment(t *testing.T) {
	m := vfs.NewMemFS()
	writeLog(t, m, 30)
	rewrite(t, m, "/log/"+segmentName(31), []byte("spookl"))
	l, err := OpenLog(m, "/log", LogOptions{MaxSegmentBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	if l.Recovery().RemovedFile != "/log/"+segmentName(31) {
		t.Fatalf("report %+v", l.Recovery())
	}
	checkRecords(t, readLog(t, l, 1), 1, 30)
	if i, err := l.Append(payloadFor(31)); err != nil || i != 31 {
		t.Fatalf("Append = %d %v", i, err)
	}
}

func TestRecoveryRefusesGap(t *testing.T) {
	m := vfs.NewMemFS()
	segs := writeLog(t, m, 60)
	if err := m.Remove(segs[2]); err != nil {
		t.Fatal(err)
	}
	_, err := OpenLog(m, "/log", LogOptions{MaxSegmentBytes: 256})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), segs[3]) {
		t.Fatalf("OpenLog with a missing segment: %v", err)
	}
}
