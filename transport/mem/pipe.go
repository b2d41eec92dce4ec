package mem

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Pipe returns the two ends of a connection whose directions each buffer
// up to maxBytes. Writes block while the buffer is full; a Write larger
// than maxBytes is delivered in pieces.
func Pipe(a, b net.Addr, maxBytes int) (net.Conn, net.Conn) {
	if maxBytes <= 0 {
		panic("mem: Pipe with a non-positive buffer")
	}
	ab, ba := newBuffer(maxBytes), newBuffer(maxBytes)
	ca := &conn{in: ba, out: ab, local: a, remote: b, closed: make(chan struct{})}
	cb := &conn{in: ab, out: ba, local: b, remote: a, closed: make(chan struct{})}
	ca.readDeadline.init()
	ca.writeDeadline.init()
	cb.readDeadline.init()
	cb.writeDeadline.init()
	return ca, cb
}

// buffer is one direction of a pipe.
type buffer struct {
	mu           sync.Mutex
	data         []byte // unread bytes, len <= max
	max          int
	writerClosed bool          // the reader sees EOF once data is drained
	readerClosed bool          // writes fail
	readable     chan struct{} // capacity 1: data added or writer closed
	writable     chan struct{} // capacity 1: data consumed or reader closed
}

func newBuffer(maxBytes int) *buffer {
	return &buffer{max: maxBytes, readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

type conn struct {
	in, out       *buffer
	local, remote net.Addr
	readDeadline  deadline
	writeDeadline deadline
	closed        chan struct{}
	closeOnce     sync.Once
}

func (c *conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *conn) Read(p []byte) (int, error) {
	for {
		if c.isClosed() {
			return 0, net.ErrClosed
		}
		if c.readDeadline.expired() {
			return 0, os.ErrDeadlineExceeded
		}
		b := c.in
		b.mu.Lock()
		if len(b.data) > 0 {
			n := copy(p, b.data)
			b.data = b.data[:copy(b.data, b.data[n:])]
			b.mu.Unlock()
			signal(b.writable)
			return n, nil
		}
		eof := b.writerClosed
		b.mu.Unlock()
		if eof {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		select {
		case <-b.readable:
		case <-c.readDeadline.wait():
		case <-c.closed:
		}
	}
}

func (c *conn) Write(p []byte) (int, error) {
	written := 0
	for {
		if c.isClosed() {
			return written, net.ErrClosed
		}
		if c.writeDeadline.expired() {
			return written, os.ErrDeadlineExceeded
		}
		b := c.out
		b.mu.Lock()
		if b.readerClosed {
			b.mu.Unlock()
			return written, io.ErrClosedPipe
		}
		if space := b.max - len(b.data); space > 0 && len(p) > 0 {
			n := min(space, len(p))
			b.data = append(b.data, p[:n]...)
			p = p[n:]
			written += n
		}
		b.mu.Unlock()
		signal(b.readable)
		if len(p) == 0 {
			return written, nil
		}
		select {
		case <-b.writable:
		case <-c.writeDeadline.wait():
		case <-c.closed:
		}
	}
}

// Close closes both directions: the peer reads EOF after the bytes already
// written and its writes fail; blocked calls on this end return
// net.ErrClosed.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.in.mu.Lock()
		c.in.readerClosed = true
		c.in.mu.Unlock()
		signal(c.in.writable)
		c.out.mu.Lock()
		c.out.writerClosed = true
		c.out.mu.Unlock()
		signal(c.out.readable)
		c.readDeadline.set(time.Time{})
		c.writeDeadline.set(time.Time{})
	})
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) SetDeadline(t time.Time) error {
	c.readDeadline.set(t)
	c.writeDeadline.set(t)
	return nil
}
func (c *conn) SetReadDeadline(t time.Time) error  { c.readDeadline.set(t); return nil }
func (c *conn) SetWriteDeadline(t time.Time) error { c.writeDeadline.set(t); return nil }

// deadline is a settable point in time whose passing closes a channel.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	done  chan struct{} // closed when the deadline has passed
}

func (d *deadline) init() { d.done = make(chan struct{}) }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	select {
	case <-d.done:
		d.done = make(chan struct{}) // passed before: re-arm
	default:
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		close(d.done)
		return
	}
	done := d.done
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.done == done {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	})
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

func (d *deadline) expired() bool {
	select {
	case <-d.wait():
		return true
	default:
		return false
	}
}
