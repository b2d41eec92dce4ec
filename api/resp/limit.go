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
	errBulkLength         = errors.New("invalid bulk length")
	errMultibulkLength    = errors.New("invalid multibulk length")
	errInlineTooBig       = errors.New("too big inline request")
	errCountTooBig        = errors.New("too big mbulk count string")
	errBulkCountTooBig    = errors.New("too big bulk count string")
	errCommandTooBig      = errors.New("command too large")
	errExpectedBulk       = errors.New("expected '$'")
	errUnauthBulkLength   = errors.New("unauthenticated bulk length")
	errUnauthMultibulkLen = errors.New("unauthenticated multibulk length")
)

// errInputLimit is not a protocol error: the node holds
// MaxClientInputBytesTotal of unfinished commands already. The client is
// told so and disconnected.
var errInputLimit = errors.New("max client input buffered on this node reached (MaxClientInputBytesTotal); closing the connection")

// maxHeaderLineBytes bounds a "*<count>\r\n" or "$<length>\r\n" line: 20
// digits of an int64, a sign, the CR and some slack.
const maxHeaderLineBytes = 32

// scanner states.
const (
	scanStart      = iota // at the first byte of a command
	scanCountLine         // inside "*<count>\r\n" (held back, not passed on yet)
	scanBulkHeader        // expecting '$'
	scanBulkLength        // inside "$<length>\r\n"
	scanBulkBody          // inside a bulk's bytes and its CRLF
	scanInline            // inside an inline (telnet) command line
)

// scanner checks a RESP request stream against the named limits before
// redcon buffers it: redcon itself grows its read buffer to whatever one
// command needs, so without this a client could make the server allocate
// without bound. It validates only the framing (redcon does the parsing)
// and passes the stream on unchanged but for one edit: a multibulk count
// of zero or less ("*0", "*-1") is dropped, as Redis ignores it (redcon
// would close the connection). The count line is held back until it is
// whole, so it can be dropped.
//
// Before authentication (authed false) Redis's smaller limits apply:
// MaxUnauthenticatedArgs and MaxUnauthenticatedBulkBytes.
type scanner struct {
	state     int
	line      [maxHeaderLineBytes]byte
	lineLen   int
	args      int   // bulks still expected in the current command
	remaining int64 // bytes left in the current bulk, CRLF included
	cmdBytes  int64 // payload bytes of the current command so far
	inline    int   // bytes of the current inline line so far
	// authed, when not nil, says whether the connection has
	// authenticated; nil means it has (no password). It is read on the
	// goroutine that reads the connection, the one that runs AUTH.
	authed *bool
	// pending counts the bytes passed on for the current, unfinished
	// command (charged to the node's input budget).
	pending int64
}

func (s *scanner) authenticated() bool { return s.authed == nil || *s.authed }

// feed scans in and writes the bytes to pass on to out, returning how
// many it wrote and how many bytes of in it consumed. With oneCommand it
// stops after the first command that ends, so the command runs (AUTH,
// say) before the next is checked. out may alias in as long as it starts
// no later than in minus the held count line (s.lineLen+1 bytes): the
// scanner never writes past what it has read. charge is called with the
// size of each run of bytes passed on for an unfinished command, settle
// when a command ends; either may be nil.
func (s *scanner) feed(in, out []byte, oneCommand bool, charge func(int64) error, settle func()) (nOut, nIn int, err error) {
	w, i := 0, 0
	run := 0 // start of the run of in[run:i] to pass on unchanged
	flush := func() error {
		if i > run {
			n := copy(out[w:], in[run:i])
			w += n
			s.pending += int64(n)
			if charge != nil {
				if err := charge(int64(n)); err != nil {
					return err
				}
			}
		}
		run = i
		return nil
	}
	end := func() bool { // a command ended: settle its charge
		s.state = scanStart
		if settle != nil {
			settle()
		}
		s.pending = 0
		return oneCommand
	}
	for i < len(in) {
		switch s.state {
		case scanStart:
			if in[i] == '*' {
				if err := flush(); err != nil {
					return w, i, err
				}
				s.state, s.lineLen = scanCountLine, 0
				i++
				run = i // the count line is held back
				continue
			}
			s.state, s.inline = scanInline, 0
		case scanCountLine:
			c := in[i]
			i++
			run = i
			if c != '\n' {
				if s.lineLen == len(s.line) {
					return w, i, errCountTooBig
				}
				s.line[s.lineLen] = c
				s.lineLen++
				continue
			}
			if s.lineLen == 0 || s.line[s.lineLen-1] != '\r' {
				return w, i, errMultibulkLength
			}
			n, perr := strconv.ParseInt(string(s.line[:s.lineLen-1]), 10, 64)
			switch {
			case perr != nil || n > MaxCommandArgs:
				return w, i, errMultibulkLength
			case n > MaxUnauthenticatedArgs && !s.authenticated():
				return w, i, errUnauthMultibulkLen
			case n <= 0:
				s.state = scanStart // ignored, as Redis does: pass nothing on
				continue
			}
			// Pass the held line on now.
			out[w] = '*'
			copy(out[w+1:], s.line[:s.lineLen])
			out[w+1+s.lineLen] = '\n'
			w += s.lineLen + 2
			s.pending = int64(s.lineLen + 2)
			if charge != nil {
				if err := charge(s.pending); err != nil {
					return w, i, err
				}
			}
			s.args, s.cmdBytes, s.state = int(n), 0, scanBulkHeader
		case scanBulkLength:
			c := in[i]
			i++
			if c != '\n' {
				if s.lineLen == len(s.line) {
					return w, i, errBulkCountTooBig
				}
				s.line[s.lineLen] = c
				s.lineLen++
				continue
			}
			if s.lineLen == 0 || s.line[s.lineLen-1] != '\r' {
				return w, i, errBulkLength
			}
			n, perr := strconv.ParseInt(string(s.line[:s.lineLen-1]), 10, 64)
			switch {
			case perr != nil || n < 0 || n > MaxBulkBytes:
				return w, i, errBulkLength
			case n > MaxUnauthenticatedBulkBytes && !s.authenticated():
				return w, i, errUnauthBulkLength
			}
			s.cmdBytes += n
			if s.cmdBytes > MaxCommandBytes {
				return w, i, errCommandTooBig
			}
			s.remaining, s.state = n+2, scanBulkBody
		case scanBulkHeader:
			if in[i] != '$' {
				return w, i, errExpectedBulk
			}
			i++
			s.state, s.lineLen = scanBulkLength, 0
		case scanBulkBody:
			step := min(s.remaining, int64(len(in)-i))
			s.remaining -= step
			i += int(step)
			if s.remaining == 0 {
				s.args--
				if s.args > 0 {
					s.state = scanBulkHeader
					continue
				}
				if err := flush(); err != nil {
					return w, i, err
				}
				if end() {
					return w, i, nil
				}
			}
		case scanInline:
			j := i
			for j < len(in) && in[j] != '\n' {
				j++
			}
			s.inline += j - i
			if s.inline > MaxInlineBytes {
				return w, i, errInlineTooBig
			}
			i = j
			if j < len(in) {
				i++
				if err := flush(); err != nil {
					return w, i, err
				}
				if end() {
					return w, i, nil
				}
			}
		}
	}
	if err := flush(); err != nil {
		return w, i, err
	}
	return w, i, nil
}

// Read buffer of a limitConn.
const (
	// limitReadBytes is the buffer a limitConn reads into (allocated on
	// its first read, so a silent connection holds none).
	limitReadBytes = 4 << 10
	// limitHeadroomBytes is room before the read data for a count line
	// held back from the previous read (at most maxHeaderLineBytes+1).
	limitHeadroomBytes = 64
	// limitDirectBytes: a bulk body with at least this much left is read
	// straight into the caller's buffer, unchecked, without a copy.
	limitDirectBytes = 1 << 10
)

// inputBudget bounds the bytes of unfinished commands held for all the
// connections of a server (MaxClientInputBytesTotal).
type inputBudget struct {
	used atomic.Int64
	max  int64
}

// limitConn runs every byte read through a scanner. On a violation it
// passes on the bytes before it, then writes the error to the client
// itself (redcon has flushed every earlier reply before it reads again,
// so the order holds) and fails the read, which makes redcon close the
// connection.
type limitConn struct {
	net.Conn
	scan   scanner
	budget *inputBudget // nil: unbounded

	buf            []byte // limitHeadroomBytes + limitReadBytes, on first use
	outLo, outHi   int    // buf[outLo:outHi]: scanned bytes for the reader
	scanLo, scanHi int    // buf[scanLo:scanHi]: read, not yet scanned
	err            error  // the violation that ends the connection
	told           bool   // err was written to the client

	// mu orders charges (the reader) against the release in Close.
	mu      sync.Mutex
	charged int64
	closed  bool
}

func (c *limitConn) charge(n int64) error {
	if c.budget == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	if c.budget.used.Add(n) > c.budget.max {
		c.budget.used.Add(-n)
		return errInputLimit
	}
	c.charged += n
	return nil
}

func (c *limitConn) settle() {
	if c.budget == nil {
		return
	}
	c.mu.Lock()
	c.budget.used.Add(-c.charged)
	c.charged = 0
	c.mu.Unlock()
}

// Close closes the connection and returns its unfinished command's bytes
// to the budget.
func (c *limitConn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		if c.budget != nil {
			c.budget.used.Add(-c.charged)
		}
		c.charged = 0
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

func (c *limitConn) Read(p []byte) (int, error) {
	for {
		if c.outHi > c.outLo {
			n := copy(p, c.buf[c.outLo:c.outHi])
			c.outLo += n
			return n, nil
		}
		if c.err != nil {
			// Everything before the violation was passed on, and its
			// replies flushed: the error comes last, once.
			if !c.told {
				c.told = true
				msg := "-ERR Protocol error: " + c.err.Error() + "\r\n"
				if errors.Is(c.err, errInputLimit) {
					msg = "-ERR " + c.err.Error() + "\r\n"
				}
				_, _ = c.Conn.Write([]byte(msg))
			}
			return 0, c.err
		}
		oneCommand := !c.scan.authenticated()
		if c.scanHi == c.scanLo && c.scan.state == scanBulkBody && c.scan.remaining >= limitDirectBytes && !oneCommand {
			return c.readDirect(p)
		}
		if c.scanHi == c.scanLo {
			if c.buf == nil {
				c.buf = make([]byte, limitHeadroomBytes+limitReadBytes)
			}
			n, err := c.Conn.Read(c.buf[limitHeadroomBytes:])
			c.scanLo, c.scanHi = limitHeadroomBytes, limitHeadroomBytes+n
			if n == 0 {
				return 0, err
			}
		}
		// Scanned bytes go back into the buffer, starting early enough
		// for a count line held from the previous read.
		lo := c.scanLo
		if c.scan.state == scanCountLine {
			lo -= c.scan.lineLen + 1
		}
		w, r, err := c.scan.feed(c.buf[c.scanLo:c.scanHi], c.buf[lo:], oneCommand, c.charge, c.settle)
		c.outLo, c.outHi = lo, lo+w
		c.scanLo += r
		c.err = err
	}
}

// readDirect reads part of a bulk body straight into p.
func (c *limitConn) readDirect(p []byte) (int, error) {
	p = p[:min(int64(len(p)), c.scan.remaining)]
	n, err := c.Conn.Read(p)
	if n > 0 {
		if _, _, serr := c.scan.feed(p[:n], p[:n], false, c.charge, c.settle); serr != nil {
			c.err = serr
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
	budget  *inputBudget  // shared by every connection
}

// Accept backoff bounds: redcon retries a failed Accept at once, so a
// lasting error (out of file descriptors) would spin a core; the listener
// waits between attempts instead, as net/http does.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

func newLimitListener(l net.Listener, budget *inputBudget) *limitListener {
	return &limitListener{Listener: l, budget: budget, done: make(chan struct{})}
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
	return &limitConn{Conn: c, budget: l.budget}, nil
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
