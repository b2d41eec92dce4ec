package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spooksystems/spook/storage/vfs"
)

// benchPayloadBytes is a typical small transaction record.
const benchPayloadBytes = 128

// BenchmarkLogAppendSync measures appends on the real disk with one Sync
// per batch (batch=1 is SyncAlways with one write per request; batch=64
// is group commit). One op is one record; the matching raw benchmark
// writes the same framed bytes with os.File and fsync, so the ratio is
// the log's overhead.
//
//	go test ./storage -run '^$' -bench 'AppendSync|AppendFsync' -benchtime 200ms -count 5
func BenchmarkLogAppendSync(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l, err := OpenLog(vfs.OS{}, filepath.Join(b.TempDir(), "log"), LogOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			payload := make([]byte, benchPayloadBytes)
			b.SetBytes(benchPayloadBytes)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.Append(payload); err != nil {
					b.Fatal(err)
				}
				if (i+1)%batch == 0 || i == b.N-1 {
					if err := l.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkRawAppendFsync is the baseline: the same framed bytes written
// to one os.File opened for append, with fsync per batch.
func BenchmarkRawAppendFsync(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			record := appendRecord(nil, make([]byte, benchPayloadBytes))
			buf := make([]byte, 0, batch*len(record))
			b.SetBytes(benchPayloadBytes)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf = append(buf, record...)
				if (i+1)%batch == 0 || i == b.N-1 {
					if _, err := f.Write(buf); err != nil {
						b.Fatal(err)
					}
					buf = buf[:0]
					if err := f.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkStoreOpenReplay measures restart: open a data directory on the
// real disk holding 200,000 records of 100 bytes (about 22 MB in a few
// segments) and replay them all. One op is one whole restart.
func BenchmarkStoreOpenReplay(b *testing.B) {
	const records = 200_000
	dir := b.TempDir()
	s, err := OpenStore(vfs.OS{}, dir, StoreOptions{Log: LogOptions{MaxSegmentBytes: 8 << 20}})
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 100)
	for range records {
		if _, err := s.Log().Append(payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(records * 100)
	b.ResetTimer()
	for range b.N {
		s, err := OpenStore(vfs.OS{}, dir, StoreOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := s.Replay(func(uint64, []byte) error { n++; return nil }); err != nil || n != records {
			b.Fatalf("replayed %d: %v", n, err)
		}
		s.Close()
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkLogAppend measures Append without disk waits: framing,
// checksums, buffering, and MemFS copying the flushed bytes into its
// growing file (which dominates the profile). Append itself does not
// allocate once its buffer has grown.
func BenchmarkLogAppend(b *testing.B) {
	l, err := OpenLog(vfs.NewMemFS(), "/log", LogOptions{})
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, benchPayloadBytes)
	b.SetBytes(benchPayloadBytes)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := l.Append(payload); err != nil {
			b.Fatal(err)
		}
	}
}
