package transport

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/spooksystems/spook/transport/certs"
	"github.com/spooksystems/spook/wire"
)

// The link benchmarks send b.N Message frames one way over a loopback
// connection and wait until the receiver has read them all; BenchmarkRawTCP
// moves the same number of bytes (payload plus the 9 bytes of framing)
// with plain buffered reads and writes, as the baseline. MB/s counts
// payload bytes only.
//
//	go test -run '^$' -bench 'Link|RawTCP' -benchtime 200ms -count 5 ./transport/

var benchPayloads = []int{64, 4 << 10}

const frameOverheadBytes = 4 + 1 + 4 // length, type, checksum

func BenchmarkLinkTCP(b *testing.B) {
	for _, size := range benchPayloads {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) { benchLink(b, size, false) })
	}
}

func BenchmarkLinkTLS(b *testing.B) {
	for _, size := range benchPayloads {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) { benchLink(b, size, true) })
	}
}

func BenchmarkRawTCP(b *testing.B) {
	for _, size := range benchPayloads {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error, 1)
			record := make([]byte, size+frameOverheadBytes)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				r := bufio.NewReaderSize(c, wire.DefaultBufferBytes)
				buf := make([]byte, len(record))
				for range b.N {
					if _, err := io.ReadFull(r, buf); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			c, err := TCP.Dial(context.Background(), ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			w := bufio.NewWriterSize(c, wire.DefaultBufferBytes)
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := w.Write(record); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
		})
	}
}

func benchLink(b *testing.B, size int, secure bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var l net.Listener = ln
	var d Dialer = TCP
	if secure {
		l = tlsListener{ln, testPKI.b.ServerConfig(certs.RequirePeerCert)}
		d = &TLSDialer{Dialer: TCP, Config: testPKI.a.ClientConfig("b")}
	}
	accepted := acceptOne(l, wireConfig("b", "bench"))
	a, err := Open(context.Background(), d, ln.Addr().String(), wireConfig("a", "bench"))
	if err != nil {
		b.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		b.Fatal(r.err)
	}
	defer closeBoth(a, r.link)
	done := make(chan error, 1)
	go func() {
		for range b.N {
			if _, _, err := r.link.ReadFrame(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	payload := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := a.WriteFrame(wire.TypeMessage, payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
}
