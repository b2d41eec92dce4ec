package transport

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	"github.com/spooksystems/spook/wire"
)

// Route is where the single port sends a connection.
type Route uint8

const (
	RouteNone Route = iota // unrecognised: refused
	RoutePeer              // starts with wire.Magic
	RouteRESP              // '*' (a RESP array) or a letter (an inline command)
	RouteHTTP              // an HTTP method, a space and '/' or '*'
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

// MaxPeekBytes bounds how many bytes Classify may ask for: the longest
// pattern is "OPTIONS *" (9 bytes); the magic is 7.
const MaxPeekBytes = 16

var httpMethods = [][]byte{
	[]byte("GET "), []byte("HEAD "), []byte("POST "), []byte("PUT "), []byte("DELETE "),
	[]byte("OPTIONS "), []byte("PATCH "), []byte("CONNECT "), []byte("TRACE "),
}

// Classify decides the route of a connection from its first bytes. With
// needMore it cannot decide yet and wants more bytes (never beyond
// MaxPeekBytes). It is pure.
//
// RESP inline commands and HTTP share method words ("GET key" is RESP,
// "GET /path" is HTTP): the byte after the space decides, so an inline
// RESP command whose first argument starts with '/' or '*' is taken for
// HTTP. redis-cli and client libraries send arrays ('*'), never inline.
func Classify(prefix []byte) (route Route, needMore bool) {
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
	case b == '*':
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
			if next := prefix[len(m)]; next == '/' || next == '*' {
				return RouteHTTP, false
			}
			return RouteRESP, false // "GET key": an inline command
		}
	}
	if b := prefix[0]; 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' {
		return RouteRESP, false
	}
	return RouteNone, false
}

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
// reached, or a read fails (the caller's deadline bounds it). The bytes
// read are returned so they can be replayed.
func peek(c net.Conn, prefixes []string) (Route, []byte, error) {
	buf := make([]byte, MaxPeekBytes)
	n := 0
	for {
		route, more := classifyWith(prefixes, buf[:n])
		if !more {
			return route, buf[:n], nil
		}
		if n == len(buf) {
			return RouteNone, buf[:n], nil
		}
		k, err := c.Read(buf[n:])
		n += k
		if err != nil {
			if route, more := classifyWith(prefixes, buf[:n]); !more {
				return route, buf[:n], nil
			}
			return RouteNone, buf[:n], err
		}
	}
}

// prefixConn replays bytes already read from Conn before reading more.
type prefixConn struct {
	net.Conn
	prefix []byte
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
