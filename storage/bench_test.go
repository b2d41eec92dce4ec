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
