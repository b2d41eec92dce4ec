package resp

import (
	"bytes"
	"errors"
	"fmt"
)

// Protocol errors the parser reports to the client (with the "ERR
// Protocol error: " prefix Redis uses) before the connection is closed.
// The texts are Redis's where Redis has one.
var (
	errBulkLength         = errors.New("invalid bulk length")
	errMultibulkLength    = errors.New("invalid multibulk length")
	errInlineTooBig       = errors.New("too big inline request")
	errCountTooBig        = errors.New("too big mbulk count string")
	errBulkCountTooBig    = errors.New("too big bulk count string")
	errCommandTooBig      = errors.New("command too large")
	errExpectedBulk       = errors.New("expected '$'")
	errUnbalancedQuotes   = errors.New("unbalanced quotes in request")
	errUnauthBulkLength   = errors.New("unauthenticated bulk length")
	errUnauthMultibulkLen = errors.New("unauthenticated multibulk length")
)

// maxHeaderLineBytes bounds a "*<count>\r\n" or "$<length>\r\n" line
// after its first byte: 20 digits of an int64, a sign, the CR and some
// slack.
const maxHeaderLineBytes = 32

// parser states.
const (
	parseStart  = iota // at the first byte of a command
	parseCount         // inside "*<count>\r\n"
	parseBulks         // reading the bulks of a multibulk command
	parseInline        // inside an inline (telnet) command line
)

// span is an argument of the command being parsed, as an offset from the
// command's first byte, so it survives the buffer moving.
type span struct{ off, n int }

// parser reads RESP requests out of one connection's read buffer. Every
// byte is looked at once: bulk bodies are skipped by their length, a
// header or inline line is searched for its end once (a partial header
// line, at most maxHeaderLineBytes, is searched again when more bytes
// come). Arguments are not copied: they alias the read buffer and stay
// valid until the buffer is next filled (fill), which the connection does
// only after it has run every command parsed so far. Inline arguments
// with quotes are unescaped in place, inside their own line.
//
// It enforces the protocol limits as headers arrive, before the bytes
// they announce: MaxCommandArgs, MaxBulkBytes, MaxCommandBytes,
// MaxInlineBytes and, before authentication, MaxUnauthenticatedArgs and
// MaxUnauthenticatedBulkBytes. Each command is checked against the
// authentication state when its header is parsed, and the connection runs
// a command before it parses the next, so a pipelined AUTH raises the
// limits for the commands after it.
//
// A multibulk count of zero or less ("*0", "*-1") is skipped, as Redis
// skips it; so is an inline line with no arguments.
type parser struct {
	buf []byte // read buffer; nil until the first fill
	pos int    // next byte to parse
	end int    // end of the bytes read
	cmd int    // first byte of the command being parsed

	state    int
	argsLeft int    // bulks still expected in the current command
	bulk     int    // length of the bulk being read; -1 before its header
	cmdBytes int64  // bulk bytes of the current command so far
	spans    []span // arguments of the current command so far
	// argv holds the arguments of the whole commands returned by next
	// since the last release; each command's are a sub-slice.
	argv [][]byte
}

// Read buffer sizes of a parser.
const (
	// parserReadBytes is a connection's read buffer (allocated on its
	// first read, so a silent connection holds none); a command larger
	// than it grows the buffer, by doubling, up to what the command
	// needs.
	parserReadBytes = 16 << 10
	// parserKeepBytes: a buffer grown past it for a large command is
	// dropped once that command has run.
	parserKeepBytes = 256 << 10
	// parserMaxReadBytes bounds one read from the socket, so the bytes a
	// connection holds pass MaxClientInputBytesTotal by at most this much
	// before it is refused.
	parserMaxReadBytes = 1 << 20
)

// next returns the arguments of the next whole command in the buffer, or
// nil when more input is needed. authed selects the limits (before
// authentication Redis's smaller ones). The returned slices alias the read
// buffer, each capped at its length so an append by a command cannot
// overwrite the bytes after it; they are valid until the next fill.
func (p *parser) next(authed bool) ([][]byte, error) {
	for {
		switch p.state {
		case parseStart:
			if p.pos == p.end {
				return nil, nil
			}
			p.cmd = p.pos
			if p.buf[p.pos] == '*' {
				p.state = parseCount
				continue
			}
			p.state = parseInline
		case parseCount:
			n, ok, err := p.header(p.cmd+1, errCountTooBig, errMultibulkLength)
			if !ok || err != nil {
				return nil, err
			}
			switch {
			case n > MaxCommandArgs:
				return nil, errMultibulkLength
			case n > MaxUnauthenticatedArgs && !authed:
				return nil, errUnauthMultibulkLen
			case n <= 0:
				p.state = parseStart // ignored, as Redis does
				continue
			}
			p.argsLeft, p.bulk, p.cmdBytes, p.spans = int(n), -1, 0, p.spans[:0]
			p.state = parseBulks
		case parseBulks:
			for p.argsLeft > 0 {
				if p.bulk < 0 {
					if p.pos == p.end {
						return nil, nil
					}
					if c := p.buf[p.pos]; c != '$' {
						return nil, fmt.Errorf("%w, got '%c'", errExpectedBulk, c)
					}
					n, ok, err := p.header(p.pos+1, errBulkCountTooBig, errBulkLength)
					if !ok || err != nil {
						return nil, err
					}
					switch {
					case n < 0 || n > MaxBulkBytes:
						return nil, errBulkLength
					case n > MaxUnauthenticatedBulkBytes && !authed:
						return nil, errUnauthBulkLength
					}
					p.cmdBytes += n
					if p.cmdBytes > MaxCommandBytes {
						return nil, errCommandTooBig
					}
					p.bulk = int(n)
				}
				// The body and its CRLF (not checked, as Redis does not).
				if p.end-p.pos < p.bulk+2 {
					return nil, nil
				}
				p.spans = append(p.spans, span{p.pos - p.cmd, p.bulk})
				p.pos += p.bulk + 2
				p.bulk = -1
				p.argsLeft--
			}
			p.state = parseStart
			lo := len(p.argv)
			for _, s := range p.spans {
				a := p.cmd + s.off
				p.argv = append(p.argv, p.buf[a:a+s.n:a+s.n])
			}
			return p.argv[lo:], nil
		case parseInline:
			nl := bytes.IndexByte(p.buf[p.pos:p.end], '\n')
			if nl < 0 {
				p.pos = p.end // searched; not searched again
				if p.end-p.cmd > MaxInlineBytes {
					return nil, errInlineTooBig
				}
				return nil, nil
			}
			nl += p.pos
			if nl-p.cmd > MaxInlineBytes {
				return nil, errInlineTooBig
			}
			line := p.buf[p.cmd:nl]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			p.pos, p.state = nl+1, parseStart
			lo := len(p.argv)
			var ok bool
			if p.argv, ok = splitInline(line, p.argv); !ok {
				return nil, errUnbalancedQuotes
			}
			if len(p.argv) > lo {
				return p.argv[lo:], nil
			}
		}
	}
}

// header parses the "<n>\r\n" line that starts at from (after its '*' or
// '$'). ok is false when the line is not whole yet; it then stays where
// it is and is searched again with more bytes. long is the error for a
// line longer than maxHeaderLineBytes, bad for one that is not a decimal
// integer ended by CRLF.
func (p *parser) header(from int, long, bad error) (n int64, ok bool, err error) {
	window := p.buf[from:min(p.end, from+maxHeaderLineBytes+1)]
	nl := bytes.IndexByte(window, '\n')
	if nl < 0 {
		if len(window) > maxHeaderLineBytes {
			return 0, false, long
		}
		return 0, false, nil
	}
	if nl == 0 || window[nl-1] != '\r' {
		return 0, false, bad
	}
	n, valid := parseDecimal(window[:nl-1])
	if !valid {
		return 0, false, bad
	}
	p.pos = from + nl + 1
	return n, true, nil
}

// parseDecimal parses an optionally negative decimal integer of at most
// 18 digits (enough for every limit; more is invalid).
func parseDecimal(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// isSpace is C's isspace in the C locale, which Redis's inline parser
// skips between arguments.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// splitInline splits an inline command line into arguments by Redis's
// rules (sdssplitargs), appending them to argv; ok is false for
// unbalanced quotes. Arguments are separated by spaces; "double quotes"
// take \xHH, \n, \r, \t, \b, \a and \<any> escapes, 'single quotes' only
// \'; a closing quote must be followed by a space or the end; a quote
// inside an unquoted argument opens a quoted part of it (a"b" is ab); a
// NUL byte ends the line, as it ends Redis's C string.
//
// Unescaped bytes are written back into line itself (an argument never
// grows: each byte written consumes at least one read), so the arguments
// alias line and nothing is allocated.
func splitInline(line []byte, argv [][]byte) (_ [][]byte, ok bool) {
	at := func(i int) byte { // line[i], or the C string's NUL past its end
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	r, w := 0, 0
	for {
		for at(r) != 0 && isSpace(at(r)) {
			r++
		}
		if at(r) == 0 {
			return argv, true
		}
		start := w
		inDouble, inSingle := false, false
		for done := false; !done; {
			c := at(r)
			switch {
			case inDouble:
				switch {
				case c == '\\' && at(r+1) == 'x':
					hi, okHi := hexDigit(at(r + 2))
					lo, okLo := hexDigit(at(r + 3))
					if okHi && okLo {
						line[w] = hi<<4 | lo
						w++
						r += 3
						break
					}
					r++
					line[w] = 'x'
					w++
				case c == '\\' && at(r+1) != 0:
					r++
					switch e := at(r); e {
					case 'n':
						line[w] = '\n'
					case 'r':
						line[w] = '\r'
					case 't':
						line[w] = '\t'
					case 'b':
						line[w] = '\b'
					case 'a':
						line[w] = '\a'
					default:
						line[w] = e
					}
					w++
				case c == '"':
					if n := at(r + 1); n != 0 && !isSpace(n) {
						return argv, false
					}
					done = true
				case c == 0:
					return argv, false
				default:
					line[w] = c
					w++
				}
			case inSingle:
				switch {
				case c == '\\' && at(r+1) == '\'':
					r++
					line[w] = '\''
					w++
				case c == '\'':
					if n := at(r + 1); n != 0 && !isSpace(n) {
						return argv, false
					}
					done = true
				case c == 0:
					return argv, false
				default:
					line[w] = c
					w++
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inDouble = true
				case '\'':
					inSingle = true
				default:
					line[w] = c
					w++
				}
			}
			if at(r) != 0 {
				r++
			}
		}
		argv = append(argv, line[start:w:w])
	}
}

// release forgets the commands returned by next, once they have run, so
// argv's backing array is reused. A very long one is dropped.
func (p *parser) release() {
	clear(p.argv)
	if cap(p.argv) > 4096 {
		p.argv = nil
	}
	p.argv = p.argv[:0]
	if cap(p.spans) > 4096 {
		p.spans = nil
	}
}

// held is how many bytes of an unfinished command the buffer holds (what
// MaxClientInputBytesTotal counts).
func (p *parser) held() int64 {
	if p.state == parseStart {
		return 0
	}
	return int64(p.end - p.cmd)
}

// room makes space to read into and returns it. Call it only when every
// command next returned has run (after release): it may move the
// unfinished command to the front of the buffer or into a larger one.
func (p *parser) room() []byte {
	if p.state == parseStart && p.pos == p.end {
		// Nothing held: start over at the front, in a buffer of the
		// usual size.
		p.pos, p.end, p.cmd = 0, 0, 0
		if p.buf == nil || len(p.buf) > parserKeepBytes {
			p.buf = make([]byte, parserReadBytes)
		}
	}
	if p.state == parseStart {
		p.cmd = p.pos
	}
	if p.end == len(p.buf) {
		// Full: move the unfinished command to the front and, if it
		// fills half the buffer, to a buffer twice as large (but no
		// larger than the current bulk needs).
		held := p.end - p.cmd
		size := len(p.buf)
		if held > size/2 {
			need := 2 * size
			if p.state == parseBulks && p.bulk >= 0 {
				// The bulk's end is known: grow no further than it.
				need = min(need, p.pos-p.cmd+p.bulk+2)
			}
			size = max(size, need)
		}
		buf := p.buf
		if size != len(p.buf) {
			buf = make([]byte, size)
		}
		copy(buf, p.buf[p.cmd:p.end])
		p.buf = buf
		p.pos -= p.cmd
		p.end -= p.cmd
		p.cmd = 0
	}
	return p.buf[p.end:min(len(p.buf), p.end+parserMaxReadBytes)]
}

// filled records n bytes read into the space room returned.
func (p *parser) filled(n int) { p.end += n }
