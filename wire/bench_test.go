package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkFrameRoundTrip is the CPU cost of framing alone: write one
// Message frame (header, CRC-32C, trailer) into memory and read it back
// with its checksum verified. No I/O, no syscalls.
//
//	go test -run '^$' -bench FrameRoundTrip -benchtime 200ms ./wire/
func BenchmarkFrameRoundTrip(b *testing.B) {
	for _, size := range []int{64, 4 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			var stream bytes.Buffer
			w := fuzzWriter(&stream)
			r := &Conn{readSeed: w.writeSeed, maxFrameBytes: DefaultMaxFrameBytes}
			r.r = bufio.NewReaderSize(&stream, DefaultBufferBytes)
			payload := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.WriteFrame(TypeMessage, payload); err != nil {
					b.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
				if _, p, err := r.ReadFrame(); err != nil || len(p) != size {
					b.Fatal(err)
				}
			}
		})
	}
}
