package node

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/spooksystems/spook/api/http"
	"github.com/spooksystems/spook/api/resp"
	"github.com/spooksystems/spook/transport"
	"github.com/spooksystems/spook/wire"
)

// Single-port limits.
const (
	// sniffTimeout bounds how long a new connection may take to send its
	// first bytes (and finish a TLS handshake) before it is closed.
	sniffTimeout = 5 * time.Second
	// sniffBytes is how many first bytes decide the protocol: enough for
	// the wire magic and the longest HTTP method token ("OPTIONS ").
	sniffBytes = 8
	// maxUnsniffed bounds connections still being classified; more wait in
	// the kernel's accept queue.
	maxUnsniffed = 256
)

// ingress owns the single listener and routes each connection by its first
// bytes: the wire magic to the peer protocol, an HTTP method to the HTTP
// API, a TLS ClientHello to TLS termination (then sniffed again), and
// anything else to RESP.
type ingress struct {
	n        *Node
	ln       net.Listener
	respLn   *chanListener
	httpLn   *chanListener
	resp     *resp.Server
	http     *httpapi.Server
	ws       *transport.WSHandler // peer links over WebSocket, at /v1/peer
	slots    chan struct{}
	wg       sync.WaitGroup
	peerMu   sync.Mutex
	peerConn map[net.Conn]struct{}
}

func startIngress(n *Node, ln net.Listener) (*ingress, error) {
	in := &ingress{
		n: n, ln: ln,
		respLn:   newChanListener(ln.Addr()),
		httpLn:   newChanListener(ln.Addr()),
		slots:    make(chan struct{}, maxUnsniffed),
		peerConn: map[net.Conn]struct{}{},
	}
	in.resp = resp.New(n, resp.Config{Password: n.cfg.Password})
	in.ws = transport.NewWSHandler(ln.Addr())
	in.http = httpapi.New(n, httpapi.Config{Token: n.cfg.Token, Metrics: n.metrics.handler(), Ready: n.ready, Peer: in.ws})
	in.wg.Add(4)
	go func() { defer in.wg.Done(); in.acceptWS() }()
	go func() { defer in.wg.Done(); in.resp.Serve(in.respLn) }()
	go func() { defer in.wg.Done(); in.http.Serve(in.httpLn) }()
	go func() { defer in.wg.Done(); in.accept() }()
	return in, nil
}

func (in *ingress) addr() string { return in.ln.Addr().String() }

// acceptWS routes WebSocket links like TCP connections: the stream inside
// is sniffed again, so TLS (and RequireTLS) apply on this medium too.
func (in *ingress) acceptWS() {
	for {
		conn, err := in.ws.Accept()
		if err != nil {
			return
		}
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			in.route(conn, false, func() {})
		}()
	}
}

func (in *ingress) accept() {
	for {
		conn, err := in.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			in.n.log.Warn("accept failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		in.slots <- struct{}{}
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			var once sync.Once
			release := func() { once.Do(func() { <-in.slots }) }
			defer release()
			in.route(conn, false, release)
		}()
	}
}

// route classifies conn and hands it on. inTLS is true for the plaintext
// inside a terminated TLS connection. release frees the connection's
// classification slot (once, however often it is called); route calls it
// as soon as the connection is classified.
func (in *ingress) route(conn net.Conn, inTLS bool, release func()) {
	conn.SetReadDeadline(time.Now().Add(sniffTimeout))
	br := bufio.NewReader(conn)
	first, err := br.Peek(1)
	if err != nil {
		conn.Close()
		return
	}
	c := &peekedConn{Conn: conn, r: br}
	if first[0] == 0x16 { // TLS handshake record
		if inTLS || in.n.cfg.ServerTLS == nil {
			in.n.log.Warn("TLS connection refused: this node has no TLS configured", "remote", conn.RemoteAddr().String())
			conn.Close()
			return
		}
		tc := tls.Server(c, in.n.cfg.ServerTLS)
		if err := tc.Handshake(); err != nil {
			in.n.log.Warn("TLS handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
			conn.Close()
			return
		}
		in.route(tc, true, release)
		return
	}
	if in.n.cfg.RequireTLS && !inTLS {
		in.n.log.Warn("plaintext connection refused: TLS is required", "remote", conn.RemoteAddr().String())
		conn.Write([]byte("-ERR TLS required\r\n"))
		conn.Close()
		return
	}
	head := sniff(br)
	conn.SetReadDeadline(time.Time{})
	release()
	switch {
	case strings.HasPrefix(head, wire.Magic):
		in.servePeer(c)
	case strings.HasPrefix(head, BridgePreface):
		var preface [len(BridgePreface) + 1]byte
		conn.SetReadDeadline(time.Now().Add(sniffTimeout))
		if _, err := io.ReadFull(c, preface[:]); err != nil ||
			(preface[len(BridgePreface)] != BridgeInitiate && preface[len(BridgePreface)] != BridgeRespond) {
			in.n.log.Warn("malformed bridge preface", "remote", conn.RemoteAddr().String())
			conn.Close()
			return
		}
		conn.SetReadDeadline(time.Time{})
		in.servePeerWith(c, func() { in.n.serveBridged(c, preface[len(BridgePreface)]) })
	case isHTTP(head):
		in.httpLn.deliver(c)
	default:
		in.respLn.deliver(c)
	}
}

// httpMethods are the request-line openings routed to the HTTP API.
var httpMethods = []string{"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH "}

// sniff returns the first bytes of a connection: what has arrived, and
// more only while those bytes could still open either the wire magic or an
// HTTP method (so a short inline RESP command like "PING\r\n" is routed at
// once instead of waiting for bytes that never come).
func sniff(br *bufio.Reader) string {
	head, _ := br.Peek(min(br.Buffered(), sniffBytes))
	for len(head) < sniffBytes && ambiguous(string(head)) {
		more, err := br.Peek(len(head) + 1)
		if err != nil {
			break
		}
		head = more
	}
	return string(head)
}

// ambiguous reports whether s is a proper prefix of a token that decides.
func ambiguous(s string) bool {
	for _, tok := range []string{wire.Magic, BridgePreface} {
		if len(s) < len(tok) && strings.HasPrefix(tok, s) {
			return true
		}
	}
	for _, m := range httpMethods {
		if len(s) < len(m) && strings.HasPrefix(m, s) {
			return true
		}
	}
	return false
}

// isHTTP reports whether the first bytes open an HTTP/1 request line.
func isHTTP(s string) bool {
	for _, m := range httpMethods {
		if strings.HasPrefix(s, m) {
			return true
		}
	}
	return false
}

func (in *ingress) servePeer(c net.Conn) {
	in.servePeerWith(c, func() { in.n.serveInbound(c) })
}

// servePeerWith runs serve for a peer connection, tracking it so close can
// end it.
func (in *ingress) servePeerWith(c net.Conn, serve func()) {
	in.peerMu.Lock()
	in.peerConn[c] = struct{}{}
	in.peerMu.Unlock()
	serve()
	in.peerMu.Lock()
	delete(in.peerConn, c)
	in.peerMu.Unlock()
}

// close stops accepting, closes client servers and inbound peer links.
func (in *ingress) close() {
	in.ln.Close()
	in.ws.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	in.http.Shutdown(ctx)
	in.resp.Close()
	in.respLn.Close()
	in.httpLn.Close()
	in.peerMu.Lock()
	for c := range in.peerConn {
		c.Close()
	}
	in.peerMu.Unlock()
	in.wg.Wait()
}

// peekedConn is a conn whose first bytes were read into a bufio.Reader.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener is a net.Listener fed connections by the router.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
