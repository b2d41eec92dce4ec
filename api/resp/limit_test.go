package resp

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spooksystems/spook/crdt"
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
	l := newLimitListener(fl, nil)
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

// scanAll feeds all of in to s and returns the bytes it passes on.
func scanAll(s *scanner, in []byte) ([]byte, error) {
	out := make([]byte, len(in)+maxHeaderLineBytes+2)
	w, _, err := s.feed(in, out, false, nil, nil)
	return out[:w], err
}

// feedAll is scanAll for tests that look only at the verdict.
func feedAll(s *scanner, in []byte) error {
	_, err := scanAll(s, in)
	return err
}

// TestScannerPassesOn: the scanner passes the stream on unchanged but
// for empty and negative multibulk counts, which it drops as Redis
// ignores them, however the stream is split into reads.
func TestScannerPassesOn(t *testing.T) {
	cases := []struct{ in, out string }{
		{"*1\r\n$4\r\nPING\r\n", "*1\r\n$4\r\nPING\r\n"},
		{"*0\r\n*1\r\n$4\r\nPING\r\n", "*1\r\n$4\r\nPING\r\n"},
		{"PING\r\n*-1\r\n*-100\r\nPING\r\n", "PING\r\nPING\r\n"},
		{"\r\n PING\r\n", "\r\n PING\r\n"},
	}
	for _, tc := range cases {
		for split := 1; split <= len(tc.in); split++ {
			var s scanner
			var got []byte
			for i := 0; i < len(tc.in); i += split {
				out, err := scanAll(&s, []byte(tc.in[i:min(i+split, len(tc.in))]))
				if err != nil {
					t.Fatalf("%q split %d: %v", tc.in, split, err)
				}
				got = append(got, out...)
			}
			if string(got) != tc.out {
				t.Fatalf("%q split %d: passed on %q, want %q", tc.in, split, got, tc.out)
			}
		}
	}
}

// TestScannerBeforeAuth: before authentication Redis's small limits
// apply; after it, the usual ones.
func TestScannerBeforeAuth(t *testing.T) {
	authed := false
	s := scanner{authed: &authed}
	if err := feedAll(&s, []byte("*11\r\n")); !errors.Is(err, errUnauthMultibulkLen) {
		t.Fatalf("11 arguments before AUTH: %v", err)
	}
	s = scanner{authed: &authed}
	if err := feedAll(&s, []byte(fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n", MaxUnauthenticatedBulkBytes+1))); !errors.Is(err, errUnauthBulkLength) {
		t.Fatalf("a big bulk before AUTH: %v", err)
	}
	authed = true
	s = scanner{authed: &authed}
	if err := feedAll(&s, []byte(fmt.Sprintf("*11\r\n$3\r\nGET\r\n$%d\r\n", MaxUnauthenticatedBulkBytes+1))); err != nil {
		t.Fatalf("after AUTH: %v", err)
	}
}

// TestClientInputTotal: clients that each hold part of a command share
// MaxClientInputBytesTotal; the one that would pass it is told and
// disconnected, and the others go on.
func TestClientInputTotal(t *testing.T) {
	f := start(t, Config{MaxClientInputBytesTotal: 64 << 10})
	header := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n"
	a := f.raw()
	if _, err := a.conn.Write([]byte(header + strings.Repeat("a", 40<<10))); err != nil {
		t.Fatal(err)
	}
	waitBudget := func(atLeast int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for f.server.input.used.Load() < atLeast {
			if time.Now().After(deadline) {
				t.Fatalf("budget holds %d bytes, want %d", f.server.input.used.Load(), atLeast)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitBudget(40 << 10)
	b := f.raw()
	if _, err := b.conn.Write([]byte(header + strings.Repeat("b", 40<<10))); err != nil {
		t.Fatal(err)
	}
	if got := b.read(); !strings.Contains(got, "max client input buffered") {
		t.Fatalf("the client over the total: %q", got)
	}
	f.raw().expect("+PONG", "PING")
	a.conn.Close()
	// a's part returns to the budget when it goes.
	deadline := time.Now().Add(10 * time.Second)
	for f.server.input.used.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("budget holds %d bytes after the clients left", f.server.input.used.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMaxValueText keeps errTooLarge's figure in step with the limit.
func TestMaxValueText(t *testing.T) {
	if want := strconv.Itoa(crdt.MaxValueBytes); maxValueText != want {
		t.Fatalf("maxValueText = %s, crdt.MaxValueBytes = %s", maxValueText, want)
	}
}
