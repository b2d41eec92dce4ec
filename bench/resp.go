package bench

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// MaxReplyBytes bounds one bulk string or one array length the RESP client
// accepts; a larger one is a protocol error (the harness never reads big
// values).
const MaxReplyBytes = 64 << 20

// ErrRESPProtocol is returned when a server's reply is not valid RESP2.
var ErrRESPProtocol = errors.New("bench: RESP protocol error")

// RESPError is an error reply ("-ERR ...") from the server.
type RESPError string

func (e RESPError) Error() string { return "bench: server error: " + string(e) }

// RESPConn is one pipelining RESP2 connection. Not safe for concurrent use.
type RESPConn struct {
	conn net.Conn
	w    []byte // the encoded commands not yet sent
	r    *bufio.Reader
}

// DialRESP connects to addr with a bounded dial time.
func DialRESP(addr string) (*RESPConn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &RESPConn{conn: c, r: bufio.NewReaderSize(c, 64<<10), w: make([]byte, 0, 4096)}, nil
}

// Append encodes one command into the pending buffer; Flush sends it.
func (c *RESPConn) Append(args ...[]byte) {
	c.w = appendCommand(c.w, args...)
}

// AppendStrings is Append for string arguments.
func (c *RESPConn) AppendStrings(args ...string) {
	c.w = append(c.w, '*')
	c.w = strconv.AppendInt(c.w, int64(len(args)), 10)
	c.w = append(c.w, '\r', '\n')
	for _, a := range args {
		c.w = append(c.w, '$')
		c.w = strconv.AppendInt(c.w, int64(len(a)), 10)
		c.w = append(c.w, '\r', '\n')
		c.w = append(c.w, a...)
		c.w = append(c.w, '\r', '\n')
	}
}

// appendCommand encodes args as a RESP array of bulk strings.
func appendCommand(dst []byte, args ...[]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// Flush sends the pending commands.
func (c *RESPConn) Flush() error {
	_, err := c.conn.Write(c.w)
	c.w = c.w[:0]
	return err
}

// SetDeadline bounds the next reads and writes.
func (c *RESPConn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// Close closes the connection.
func (c *RESPConn) Close() error { return c.conn.Close() }

// Reply is one decoded RESP2 reply. Exactly one of the fields is meaningful,
// by Kind: '+' Str, '-' Str (also returned as RESPError by Read), ':' Int,
// '$' Str (Nil for a null bulk), '*' Array (Nil for a null array).
type Reply struct {
	Kind  byte
	Str   string
	Int   int64
	Nil   bool
	Array []Reply
}

// Read decodes one reply. An error reply comes back as both the Reply and
// a RESPError so callers that only count failures can check err.
func (c *RESPConn) Read() (Reply, error) {
	r, err := readReply(c.r, 0)
	if err != nil {
		return r, err
	}
	if r.Kind == '-' {
		return r, RESPError(r.Str)
	}
	return r, nil
}

// Skip reads and discards n replies, returning the first error reply or
// protocol error met; it reads all n even after an error reply so the
// connection stays in step.
func (c *RESPConn) Skip(n int) error {
	var first error
	for i := 0; i < n; i++ {
		_, err := c.Read()
		if err != nil {
			var re RESPError
			if !errors.As(err, &re) {
				return err
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// Do sends one command and reads its reply.
func (c *RESPConn) Do(args ...string) (Reply, error) {
	c.AppendStrings(args...)
	if err := c.Flush(); err != nil {
		return Reply{}, err
	}
	return c.Read()
}

// maxReplyDepth bounds the nesting of arrays in a reply.
const maxReplyDepth = 8

func readReply(r *bufio.Reader, depth int) (Reply, error) {
	if depth > maxReplyDepth {
		return Reply{}, fmt.Errorf("%w: arrays nested deeper than %d", ErrRESPProtocol, maxReplyDepth)
	}
	line, err := readLine(r)
	if err != nil {
		return Reply{}, err
	}
	if len(line) == 0 {
		return Reply{}, fmt.Errorf("%w: empty line", ErrRESPProtocol)
	}
	kind, body := line[0], line[1:]
	switch kind {
	case '+', '-':
		return Reply{Kind: kind, Str: string(body)}, nil
	case ':':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return Reply{}, fmt.Errorf("%w: bad integer %q", ErrRESPProtocol, body)
		}
		return Reply{Kind: kind, Int: n}, nil
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil || n < -1 || n > MaxReplyBytes {
			return Reply{}, fmt.Errorf("%w: bad bulk length %q", ErrRESPProtocol, body)
		}
		if n == -1 {
			return Reply{Kind: kind, Nil: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return Reply{}, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return Reply{}, fmt.Errorf("%w: bulk string not terminated by CRLF", ErrRESPProtocol)
		}
		return Reply{Kind: kind, Str: string(buf[:n])}, nil
	case '*':
		n, err := strconv.Atoi(string(body))
		if err != nil || n < -1 || n > MaxReplyBytes {
			return Reply{}, fmt.Errorf("%w: bad array length %q", ErrRESPProtocol, body)
		}
		if n == -1 {
			return Reply{Kind: kind, Nil: true}, nil
		}
		out := Reply{Kind: kind, Array: make([]Reply, 0, min(n, 1024))}
		for i := 0; i < n; i++ {
			e, err := readReply(r, depth+1)
			if err != nil {
				return Reply{}, err
			}
			out.Array = append(out.Array, e)
		}
		return out, nil
	}
	return Reply{}, fmt.Errorf("%w: unknown reply type %q", ErrRESPProtocol, kind)
}

// readLine reads one CRLF-terminated line without the CRLF. The returned
// slice aliases the reader's buffer and is valid until the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line longer than the read buffer", ErrRESPProtocol)
		}
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line not terminated by CRLF", ErrRESPProtocol)
	}
	return line[:len(line)-2], nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
