package resp

import (
	"errors"
	"net"
	"testing"
	"time"
)

// failingListener fails every Accept with a non-closing error.
type failingListener struct {
	net.Listener
	calls int
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.calls++
	return nil, errors.New("accept: too many open files")
}

func TestAcceptBackoff(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: inner}
	l := newLimitListener(fl)
	start := time.Now()
	for range 3 {
		if _, err := l.Accept(); err == nil {
			t.Fatal("Accept succeeded")
		}
	}
	// 5 + 10 + 20 ms of backoff: a failing Accept does not spin.
	if d := time.Since(start); d < 35*time.Millisecond {
		t.Fatalf("three failed Accepts took %v", d)
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}
