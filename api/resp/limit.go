package resp

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Protocol errors the input scanner reports to the client (with the
// "ERR Protocol error: " prefix Redis uses) before it closes the
// connection. The texts are Redis's where Redis has one.
var (
	errBulkLength      = errors.New("invalid bulk length")
	errMultibulkLength = errors.New("invalid multibulk length")
	errInlineTooBig    = errors.New("too big inline request")
	errCountTooBig     = errors.New("too big mbulk count string")
	errBulkCountTooBig = errors.New("too big bulk count string")
	errCommandTooBig   = errors.New("command too large")
	errExpectedBulk    = errors.New("expected '$'")
)

// maxHeaderLineBytes bounds a "*<count>\r\n" or "$<length>\r\n" line: 20
// digits of an int64, a sign, the CR and some slack.
const maxHeaderLineBytes = 32

// scanner states.
const (
	scanStart      = iota // at the first byte of a command
	scanCountLine         // inside "*<count>\r\n"
	scanBulkHeader        // expecting '$'
	scanBulkLength        // inside "$<length>\r\n"
	scanBulkBody          // inside a bulk's bytes and its CRLF
	scanInline            // inside an inline (telnet) command line
)

// scanner checks a RESP request stream against the named limits before
// redcon buffers it: redcon itself grows its read buffer to whatever one
// command needs, so without this a client could make the server allocate
// without bound. It validates only the framing; redcon does the parsing.
type scanner struct {
	state     int
	line      [maxHeaderLineBytes]byte
	lineLen   int
	args      int   // bulks still expected in the current command
	remaining int64 // bytes left in the current bulk, CRLF included
	cmdBytes  int64 // payload bytes of the current command so far
	inline    int   // bytes of the current inline line so far
}

// feed checks p, the next bytes of the stream.
func (s *scanner) feed(p []byte) error {
	for i := 0; i < len(p); {
		switch s.state {
		case scanStart:
			if p[i] == '*' {
				s.state, s.lineLen = scanCountLine, 0
			} else {
				s.state, s.inline = scanInline, 0
				continue // count this byte as inline
			}
			i++
		case scanCountLine, scanBulkLength:
			c := p[i]
			i++
			if c != '\n' {
				if s.lineLen == len(s.line) {
					if s.state == scanCountLine {
						return errCountTooBig
					}
					return errBulkCountTooBig
				}
				s.line[s.lineLen] = c
				s.lineLen++
				continue
			}
			if s.lineLen == 0 || s.line[s.lineLen-1] != '\r' {
				if s.state == scanCountLine {
					return errMultibulkLength
				}
				return errBulkLength
			}
			n, err := strconv.ParseInt(string(s.line[:s.lineLen-1]), 10, 64)
			if s.state == scanCountLine {
				if err != nil || n <= 0 || n > MaxCommandArgs {
					return errMultibulkLength
				}
				s.args, s.cmdBytes, s.state = int(n), 0, scanBulkHeader
				continue
			}
			if err != nil || n < 0 || n > MaxBulkBytes {
				return errBulkLength
			}
			s.cmdBytes += n
			if s.cmdBytes > MaxCommandBytes {
				return errCommandTooBig
			}
			s.remaining, s.state = n+2, scanBulkBody
		case scanBulkHeader:
			if p[i] != '$' {
				return errExpectedBulk
			}
			i++
			s.state, s.lineLen = scanBulkLength, 0
		case scanBulkBody:
			step := min(s.remaining, int64(len(p)-i))
			s.remaining -= step
			i += int(step)
			if s.remaining == 0 {
				s.args--
				if s.args == 0 {
					s.state = scanStart
				} else {
					s.state = scanBulkHeader
				}
			}
		case scanInline:
			j := i
			for j < len(p) && p[j] != '\n' {
				j++
			}
			s.inline += j - i
			if s.inline > MaxInlineBytes {
				return errInlineTooBig
			}
			if j < len(p) {
				s.state = scanStart
				j++
			}
			i = j
		}
	}
	return nil
}

// limitConn runs every byte read through a scanner. On a violation it
// writes the protocol error to the client itself (redcon has flushed every
// earlier reply before it reads again, so the order holds) and fails the
// read, which makes redcon close the connection.
type limitConn struct {
	net.Conn
	scan scanner
	err  error
}

func (c *limitConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if serr := c.scan.feed(p[:n]); serr != nil {
			c.err = serr
			_, _ = c.Conn.Write([]byte("-ERR Protocol error: " + serr.Error() + "\r\n"))
			return 0, serr
		}
	}
	return n, err
}

// limitListener wraps every accepted connection in a limitConn.
type limitListener struct {
	net.Listener
	once   sync.Once
	cerr   error
	closed atomic.Bool
	done   chan struct{} // closed by Close; ends an accept backoff early

	backoff time.Duration // current delay after a failed Accept
}

// Accept backoff bounds: redcon retries a failed Accept at once, so a
// lasting error (out of file descriptors) would spin a core; the listener
// waits between attempts instead, as net/http does.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

func newLimitListener(l net.Listener) *limitListener {
	return &limitListener{Listener: l, done: make(chan struct{})}
}

// Accept returns net.ErrClosed once Close was called, whatever error the
// wrapped listener reports: redcon stops only on that error, and a
// listener from the single-port mux may close with its own.
func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		if l.closed.Load() {
			return nil, net.ErrClosed
		}
		l.backoff = min(max(2*l.backoff, minAcceptBackoff), maxAcceptBackoff)
		t := time.NewTimer(l.backoff)
		defer t.Stop()
		select {
		case <-t.C:
		case <-l.done:
			return nil, net.ErrClosed
		}
		return nil, err
	}
	l.backoff = 0
	return &limitConn{Conn: c}, nil
}

// Close closes the listener once; later calls return the first result.
func (l *limitListener) Close() error {
	l.closed.Store(true)
	l.once.Do(func() {
		close(l.done)
		l.cerr = l.Listener.Close()
	})
	return l.cerr
}
