package mem

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func pair(t *testing.T, maxBytes int) (net.Conn, net.Conn) {
	t.Helper()
	n := NewNetwork()
	n.MaxPipeBytes = maxBytes
	l, err := n.Listen("srv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	c, err := n.Dial(context.Background(), "srv")
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// TestSimultaneousWrites: both ends write more than the buffer at once,
// which deadlocks over net.Pipe but not over TCP or this pipe.
func TestSimultaneousWrites(t *testing.T) {
	a, b := pair(t, 1024)
	small := bytes.Repeat([]byte("x"), 512)
	// Within the buffer both writes complete before anyone reads.
	if _, err := a.Write(small); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write(small); err != nil {
		t.Fatal(err)
	}
	// Larger than the buffer: delivered in pieces while the reader reads.
	big := bytes.Repeat([]byte("0123456789"), 10_000)
	errc := make(chan error, 1)
	go func() { _, err := a.Write(big); errc <- err }()
	got := make([]byte, len(small)+len(big))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(small, big...)) {
		t.Fatal("bytes reordered or lost")
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestCloseAndEOF(t *testing.T) {
	a, b := pair(t, 64)
	a.Write([]byte("last words"))
	a.Close()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "last words" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("write to closed peer: %v", err)
	}
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after own close: %v", err)
	}
}

func TestDeadlines(t *testing.T) {
	a, b := pair(t, 4)
	a.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past read deadline: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	b.Write([]byte("ok"))
	if n, err := a.Read(make([]byte, 2)); n != 2 || err != nil {
		t.Fatalf("after clearing the deadline: %d %v", n, err)
	}
	// A blocked write is released by its deadline.
	b.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	n, err := b.Write([]byte("more than four bytes"))
	if !errors.Is(err, os.ErrDeadlineExceeded) || n != 4 {
		t.Fatalf("blocked write: %d %v", n, err)
	}
	// A blocked read is released by Close.
	done := make(chan error, 1)
	a2, _ := pair(t, 4)
	go func() { _, err := a2.Read(make([]byte, 1)); done <- err }()
	a2.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read released by close: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	n := NewNetwork()
	l, err := n.Listen("x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Listen("x"); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("second listen: %v", err)
	}
	if _, err := n.Dial(context.Background(), "y"); !errors.Is(err, ErrRefused) {
		t.Fatalf("dial nowhere: %v", err)
	}
	// A full accept queue makes Dial wait for its context.
	for range MaxAcceptQueue {
		if _, err := n.Dial(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.Dial(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial into a full queue: %v", err)
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
	if _, err := n.Listen("x"); err != nil {
		t.Fatalf("name not freed: %v", err)
	}
	if l.Addr().String() != "x" || l.Addr().Network() != "mem" {
		t.Fatal("addr")
	}
}
