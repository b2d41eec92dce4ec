package storage

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spooksystems/spook/storage/vfs"
)

// validSegment returns a segment holding records first..first+n-1.
func validSegment(first uint64, n int) []byte {
	b := appendSegmentHeader(nil, first)
	for i := range uint64(n) {
		b = appendRecord(b, payloadFor(first+i))
	}
	return b
}

const fuzzMaxRecordBytes = 1 << 10

// FuzzLogRecovery writes arbitrary bytes as the last segment of a log
// (after a valid segment of 3 records when withPrefix is set) and opens
// it. Recovery must never panic; it must either refuse with ErrCorrupt or
// yield contiguous records, and a second open must find nothing to repair
// and the same records (recovery is idempotent).
func FuzzLogRecovery(f *testing.F) {
	f.Add(validSegment(1, 3), false)
	f.Add(validSegment(4, 2), true)
	torn := validSegment(4, 3)
	f.Add(torn[:len(torn)-5], true)
	f.Add(append(validSegment(1, 1), make([]byte, 40)...), false)
	f.Add([]byte("spookl"), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, last []byte, withPrefix bool) {
		m := vfs.NewMemFS()
		opts := LogOptions{MaxRecordBytes: fuzzMaxRecordBytes, MaxSegmentBytes: 1 << 16}
		m.MkdirAll("/log")
		first := uint64(1)
		if withPrefix {
			if err := writeFileSynced(m, "/log/"+segmentName(1), validSegment(1, 3)); err != nil {
				t.Fatal(err)
			}
			first = 4
		}
		if err := writeFileSynced(m, "/log/"+segmentName(first), last); err != nil {
			t.Fatal(err)
		}
		l, err := OpenLog(m, "/log", opts)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("OpenLog failed with a non-corruption error: %v", err)
			}
			return
		}
		got := readLog(t, l, l.FirstIndex())
		if uint64(len(got)) != l.LastIndex()-l.FirstIndex()+1 {
			t.Fatalf("%d records for indexes %d..%d", len(got), l.FirstIndex(), l.LastIndex())
		}
		if withPrefix && (len(got) < 3 || !bytes.Equal(got[2].payload, payloadFor(3))) {
			t.Fatalf("the valid first segment was damaged: %d records", len(got))
		}
		l.Close()
		l, err = OpenLog(m, "/log", opts)
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		defer l.Close()
		if r := l.Recovery(); r != (RecoveryReport{}) {
			t.Fatalf("second open repaired again: %+v", r)
		}
		again := readLog(t, l, l.FirstIndex())
		if len(again) != len(got) {
			t.Fatalf("second open has %d records, first had %d", len(again), len(got))
		}
		for i := range got {
			if got[i].index != again[i].index || !bytes.Equal(got[i].payload, again[i].payload) {
				t.Fatalf("record %d differs between opens", i)
			}
		}
	})
}

// FuzzSnapshotDecode decodes arbitrary bytes as a snapshot file. It must
// never panic, and whatever it accepts must re-encode to the same bytes
// (the format has one encoding per value).
func FuzzSnapshotDecode(f *testing.F) {
	f.Add(appendSnapshot(nil, 0, nil))
	f.Add(appendSnapshot(nil, 42, []byte("state")))
	good := appendSnapshot(nil, 7, []byte("some state"))
	f.Add(good[:len(good)-1])
	f.Add(good[:snapshotHeaderBytes-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		index, data, offsetBytes, reason := decodeSnapshot(b)
		if reason != "" {
			if offsetBytes < 0 || offsetBytes > len(b) {
				t.Fatalf("offset %d outside the %d input bytes", offsetBytes, len(b))
			}
			return
		}
		if again := appendSnapshot(nil, index, data); !bytes.Equal(again, b) {
			t.Fatalf("accepted bytes do not re-encode to themselves")
		}
	})
}

var rewriteCorpus = flag.Bool("rewrite-corpus", false, "rewrite the seed corpora in testdata/fuzz (after a format change)")

// TestSeedCorpus regenerates testdata/fuzz with -rewrite-corpus, and
// otherwise checks the committed corpus is there.
func TestSeedCorpus(t *testing.T) {
	torn := validSegment(4, 3)
	garbled := validSegment(1, 4)
	garbled[len(garbled)-3] ^= 0xff
	middle := validSegment(1, 4)
	middle[segmentHeaderBytes+recordHeaderBytes+1] ^= 1
	good := appendSnapshot(nil, 7, []byte("some state"))
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	corpus := map[string]string{}
	for name, c := range map[string]struct {
		b      []byte
		prefix bool
	}{
		"valid":          {validSegment(1, 3), false},
		"valid-after":    {validSegment(4, 5), true},
		"torn-record":    {torn[:len(torn)-5], true},
		"torn-header":    {[]byte("spooklog\x01"), true},
		"zero-tail":      {append(validSegment(1, 2), make([]byte, 64)...), false},
		"garbled-tail":   {garbled, false},
		"corrupt-middle": {middle, false},
		"wrong-first":    {validSegment(9, 1), true},
	} {
		corpus[filepath.Join("FuzzLogRecovery", name)] = fmt.Sprintf("[]byte(%q)\nbool(%v)\n", c.b, c.prefix)
	}
	for name, b := range map[string][]byte{
		"valid":        good,
		"empty-data":   appendSnapshot(nil, 0, nil),
		"truncated":    good[:len(good)-3],
		"short-header": good[:10],
		"bad-data":     bad,
	} {
		corpus[filepath.Join("FuzzSnapshotDecode", name)] = fmt.Sprintf("[]byte(%q)\n", b)
	}
	for name, body := range corpus {
		file := filepath.Join("testdata", "fuzz", name)
		want := "go test fuzz v1\n" + body
		if *rewriteCorpus {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil || string(got) != want {
			t.Errorf("%s is missing or stale (err %v): run go test -run TestSeedCorpus -rewrite-corpus", file, err)
		}
	}
}
