package transport

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/spooksystems/spook/wire"
)

// rwc is a stream with no deadlines: an io.Pipe pair.
type rwc struct {
	io.Reader
	io.Writer
	closers []io.Closer
}

func (r *rwc) Close() error {
	for _, c := range r.closers {
		c.Close()
	}
	return nil
}

func TestStreamWithoutDeadlines(t *testing.T) {
	r1, w1 := io.Pipe()
	r2, w2 := io.Pipe()
	a := StreamConn(&rwc{r1, w2, []io.Closer{r1, w2}}, "a", "b")
	b := StreamConn(&rwc{r2, w1, []io.Closer{r2, w1}}, "b", "a")
	defer b.Close()
	if err := a.SetDeadline(time.Now()); !errors.Is(err, ErrNoDeadline) {
		t.Fatalf("SetDeadline: %v", err)
	}
	if a.LocalAddr().String() != "a" || a.RemoteAddr().String() != "b" {
		t.Fatal("addresses")
	}
	// b never answers; cancelling ctx must still end the handshake, by
	// closing the stream.
	go io.Copy(io.Discard, b)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	_, err := Open(ctx, pipeDialer(a), "", wireConfig("a", "c1"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	// And a working handshake over the same kind of stream.
	r3, w3 := io.Pipe()
	r4, w4 := io.Pipe()
	c := StreamConn(&rwc{r3, w4, []io.Closer{r3, w4}}, "c", "d")
	d := StreamConn(&rwc{r4, w3, []io.Closer{r4, w3}}, "d", "c")
	accepted := acceptOne(newOneShot(d), wireConfig("d", "c1"))
	l, err := Open(context.Background(), pipeDialer(c), "", wireConfig("c", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	res := <-accepted
	if res.err != nil {
		t.Fatal(res.err)
	}
	exchange(t, l, res.link)
	closeBoth(l, res.link)
	if _, _, err := res.link.ReadFrame(); err == nil || errors.Is(err, wire.ErrChecksum) {
		t.Fatalf("read after close: %v", err)
	}
}
