package transport

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/spooksystems/spook/wire"
)

// Route is where the single port sends a connection.
type Route uint8

const (
	RouteNone Route = iota // unrecognised: refused
	RoutePeer              // starts with wire.Magic
	RouteRESP              // '*' (a RESP array), or an inline command (any other text)
	RouteHTTP              // an HTTP method, a space, '/' or '*', and a line ending in an HTTP version
	RouteTLS               // a TLS handshake record: 0x16 0x03
)

// routeExtra is the first Route of MuxConfig.Prefixes: the i-th prefix
// is routeExtra+i.
const routeExtra = RouteTLS + 1

func (r Route) String() string {
	if r >= routeExtra {
		return fmt.Sprintf("prefix-%d", r-routeExtra)
	}
	return [...]string{"none", "peer", "resp", "http", "tls"}[r]
}

// MaxPeekBytes bounds how many bytes Classify looks at. Most connections
// are decided by their first few bytes; a line that starts like an HTTP
// request ("GET /x") is decided at its end, by whether it names an HTTP
// version, so the bound is the longest request line told apart from an
// inline Redis command. A longer line is taken for HTTP.
const MaxPeekBytes = 4 << 10

var httpMethods = [][]byte{
	[]byte("GET "), []byte("HEAD "), []byte("POST "), []byte("PUT "), []byte("DELETE "),
	[]byte("OPTIONS "), []byte("PATCH "), []byte("CONNECT "), []byte("TRACE "),
}

// Classify decides the route of a connection from its first bytes. With
// needMore it cannot decide yet and wants more bytes; it never looks past
// MaxPeekBytes, so it decides at the latest there. It is pure, and a
// decision holds whatever bytes follow.
//
// The first line decides. A TLS record, the peer magic and the extra
// prefixes are told by their first bytes. Then HTTP: a line that starts
// with an HTTP method, a space and '/' or '*' is HTTP if it ends with an
// HTTP version ("GET /x HTTP/1.1"); without one ("GET /x") Redis reads it
// as an inline command, and so does the node. Every other line of text
// (printable ASCII or white space first: "GET key", "\r\n", " PING",
// "\"PING\"", "{}") is RESP, since Redis takes any text as an inline
// command and answers it (with an error if it names no command). Only a
// first byte that is neither text nor a known protocol (a control byte
// other than white space, or a byte of 0x80 and up) is refused.
func Classify(prefix []byte) (route Route, needMore bool) {
	prefix = prefix[:min(len(prefix), MaxPeekBytes)]
	if len(prefix) == 0 {
		return RouteNone, true
	}
	switch b := prefix[0]; {
	case b == 0x16:
		if len(prefix) < 2 {
			return RouteNone, true
		}
		if prefix[1] == 0x03 {
			return RouteTLS, false
		}
		return RouteNone, false
	case b == '*', b == '\r', b == '\n', b == ' ', b == '\t':
		return RouteRESP, false
	case b == wire.Magic[0] && len(prefix) < len(wire.Magic) && bytes.HasPrefix([]byte(wire.Magic), prefix):
		return RouteNone, true
	case bytes.HasPrefix(prefix, []byte(wire.Magic)):
		return RoutePeer, false
	}
	for _, m := range httpMethods {
		switch {
		case len(prefix) <= len(m) && bytes.HasPrefix(m, prefix):
			return RouteNone, true // a method word so far: wait for what follows
		case bytes.HasPrefix(prefix, m):
			if next := prefix[len(m)]; next != '/' && next != '*' {
				return RouteRESP, false // "GET key": an inline command
			}
			return classifyRequestLine(prefix)
		}
	}
	if b := prefix[0]; ' ' <= b && b <= '~' || b == '\v' || b == '\f' {
		return RouteRESP, false // text: an inline command
	}
	return RouteNone, false
}

// classifyRequestLine decides a first line that starts with a method, a
// space and '/' or '*': HTTP if it ends with an HTTP version, RESP (an
// inline command) if it ends without one, HTTP if it fills MaxPeekBytes
// without ending.
func classifyRequestLine(prefix []byte) (Route, bool) {
	end := bytes.IndexByte(prefix, '\n')
	if end < 0 {
		if len(prefix) == MaxPeekBytes {
			return RouteHTTP, false
		}
		return RouteNone, true
	}
	line := bytes.TrimSuffix(prefix[:end], []byte("\r"))
	// " HTTP/d.d" at the end of the line.
	const version = len(" HTTP/1.1")
	if n := len(line); n >= version && bytes.HasPrefix(line[n-version:], []byte(" HTTP/")) &&
		isDigit(line[n-3]) && line[n-2] == '.' && isDigit(line[n-1]) {
		return RouteHTTP, false
	}
	return RouteRESP, false
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// classifyWith is Classify with extra prefixes checked first: the i-th
// routes to routeExtra+i, and bytes that could still become one wait.
func classifyWith(prefixes []string, b []byte) (Route, bool) {
	for i, p := range prefixes {
		switch {
		case len(b) < len(p) && strings.HasPrefix(p, string(b)):
			return RouteNone, true
		case strings.HasPrefix(string(b), p):
			return routeExtra + Route(i), false
		}
	}
	return Classify(b)
}

// peek reads from c until the classifier decides, the peek limit is
// reached, or a read fails. The bytes read are returned so they can be
// replayed.
//
// Deadlines: until the first byte the read deadline is first (zero: none,
// so a silent connection waits, as a pooled client connection may); from
// the first byte on, the rest must come within timeout, so a partial first
// line cannot hold the connection's goroutine for long.
func peek(c net.Conn, prefixes []string, first time.Time, timeout time.Duration) (Route, []byte, error) {
	c.SetReadDeadline(first)
	// The buffer starts small, so a connection waiting for its first
	// bytes holds little, and grows to MaxPeekBytes for long request lines.
	buf := make([]byte, 0, 16)
	for {
		route, more := classifyWith(prefixes, buf)
		if !more {
			return route, buf, nil
		}
		if len(buf) == MaxPeekBytes {
			return RouteNone, buf, nil
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, min(cap(buf), MaxPeekBytes-cap(buf)))...)[:len(buf)]
		}
		k, err := c.Read(buf[len(buf):cap(buf)])
		if len(buf) == 0 && k > 0 {
			c.SetReadDeadline(time.Now().Add(timeout))
		}
		buf = buf[:len(buf)+k]
		if err != nil {
			if route, more := classifyWith(prefixes, buf); !more {
				return route, buf, nil
			}
			return RouteNone, buf, err
		}
	}
}

// prefixConn replays bytes already read from Conn before reading more.
// The Mux hands connections out as prefixConns whose release uncounts the
// connection (MuxConfig.MaxConns) on its first Close.
type prefixConn struct {
	net.Conn
	prefix  []byte
	release func() // nil, or called once by the first Close
	closed  sync.Once
}

// Close closes the connection and, the first time, releases its place.
func (c *prefixConn) Close() error {
	err := c.Conn.Close()
	if c.release != nil {
		c.closed.Do(c.release)
	}
	return err
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// Unwrap returns the underlying connection (a *tls.Conn for connections
// that came through TLS).
func (c *prefixConn) Unwrap() net.Conn { return c.Conn }
