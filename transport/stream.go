package transport

import (
	"io"
	"net"
	"os"
	"time"
)

// StreamConn presents any ordered byte stream (stdin/stdout, a pipe, a
// serial port, an os.File) as a net.Conn, so links and TLS run over it
// exactly as over a socket. Deadlines are passed to the stream if it
// supports them (os.File pipes and net.Conns do) and otherwise fail with
// ErrNoDeadline; such a stream cannot bound a stalled peer, so prefer
// media with deadlines for untrusted peers.
func StreamConn(rwc io.ReadWriteCloser, local, remote string) net.Conn {
	return &streamConn{ReadWriteCloser: rwc, local: streamAddr(local), remote: streamAddr(remote)}
}

// Stdio is the process's standard input and output as one connection,
// for a link to a parent process or over ssh/serial tunnels
// (`ssh host spook link --stdio`). Closing it closes both.
func Stdio() net.Conn {
	return StreamConn(Duplex(os.Stdin, os.Stdout), "stdin", "stdout")
}

// Duplex joins a reader and a writer (such as os.Stdin and os.Stdout)
// into one stream whose Close closes both. Deadline setters are passed to
// whichever side supports them.
func Duplex(r io.ReadCloser, w io.WriteCloser) io.ReadWriteCloser {
	return &duplex{r: r, w: w}
}

type streamAddr string

func (a streamAddr) Network() string { return "stream" }
func (a streamAddr) String() string  { return string(a) }

type streamConn struct {
	io.ReadWriteCloser
	local, remote streamAddr
}

func (c *streamConn) LocalAddr() net.Addr  { return c.local }
func (c *streamConn) RemoteAddr() net.Addr { return c.remote }

type readDeadliner interface{ SetReadDeadline(time.Time) error }
type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

func (c *streamConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *streamConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.ReadWriteCloser.(readDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return ErrNoDeadline
}

func (c *streamConn) SetWriteDeadline(t time.Time) error {
	if d, ok := c.ReadWriteCloser.(writeDeadliner); ok {
		return d.SetWriteDeadline(t)
	}
	return ErrNoDeadline
}

type duplex struct {
	r io.ReadCloser
	w io.WriteCloser
}

func (d *duplex) Read(p []byte) (int, error)  { return d.r.Read(p) }
func (d *duplex) Write(p []byte) (int, error) { return d.w.Write(p) }

func (d *duplex) Close() error {
	errW := d.w.Close()
	errR := d.r.Close()
	if errW != nil {
		return errW
	}
	return errR
}

func (d *duplex) SetReadDeadline(t time.Time) error {
	if s, ok := d.r.(readDeadliner); ok {
		return s.SetReadDeadline(t)
	}
	return ErrNoDeadline
}

func (d *duplex) SetWriteDeadline(t time.Time) error {
	if s, ok := d.w.(writeDeadliner); ok {
		return s.SetWriteDeadline(t)
	}
	return ErrNoDeadline
}
