package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spooksystems/spook/transport/certs"
	"github.com/spooksystems/spook/wire"
)

// singlePort is a Mux on 127.0.0.1 with an HTTP server, a toy RESP server
// (answers +PONG to every read) and a peer acceptor behind it.
type singlePort struct {
	mux  *Mux
	addr string
	wg   sync.WaitGroup
	http *http.Server
	// peers receives the result of each peer handshake.
	peers chan acceptResult
}

func newSinglePort(t *testing.T, cfg MuxConfig) *singlePort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMux(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &singlePort{mux: m, addr: ln.Addr().String(), peers: make(chan acceptResult, 8)}
	s.http = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, secure := ConnectionState(r.Context().Value(connKey{}).(net.Conn))
		fmt.Fprintf(w, "hello %s tls=%v", r.URL.Path, secure)
	}), ConnContext: func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}}
	s.wg.Add(4)
	go func() { defer s.wg.Done(); m.Serve() }()
	go func() { defer s.wg.Done(); s.http.Serve(m.HTTP()) }()
	go func() {
		defer s.wg.Done()
		for {
			c, err := m.RESP().Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if _, err := io.WriteString(c, "+PONG\r\n"); err != nil {
						return
					}
				}
			}()
		}
	}()
	go func() {
		defer s.wg.Done()
		for {
			c, err := m.Peer().Accept()
			if err != nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			l, err := Accept(ctx, c, wireConfig("b", "c1"))
			cancel()
			s.peers <- acceptResult{l, err}
		}
	}()
	t.Cleanup(func() {
		s.http.Close()
		m.Close()
		s.wg.Wait()
	})
	return s
}

type connKey struct{}

// dial connects to the single port, with TLS if cfg is not nil.
func (s *singlePort) dial(t *testing.T, cfg *tls.Config) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d Dialer = TCP
	if cfg != nil {
		d = &TLSDialer{Dialer: TCP, Config: cfg}
	}
	c, err := d.Dial(ctx, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// noCertConfig is a client config that trusts the cluster CA but has no
// certificate of its own: a RESP or HTTP client.
func noCertConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(testPKI.b.CA)
	return &tls.Config{RootCAs: pool, ServerName: "b", MinVersion: tls.VersionTLS13}
}

func (s *singlePort) resp(t *testing.T, cfg *tls.Config, command string) string {
	t.Helper()
	c := s.dial(t, cfg)
	if _, err := io.WriteString(c, command); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("RESP %q: %v", command, err)
	}
	return line
}

func (s *singlePort) get(t *testing.T, cfg *tls.Config, path string) (int, string) {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d Dialer = TCP
		if cfg != nil {
			d = &TLSDialer{Dialer: TCP, Config: cfg}
		}
		return d.Dial(ctx, s.addr)
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://spook" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (s *singlePort) peer(t *testing.T, d Dialer) (*Link, acceptResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := Open(ctx, d, s.addr, wireConfig("a", "c1"))
	if err != nil {
		select {
		case r := <-s.peers:
			return nil, r, err
		case <-time.After(10 * time.Second):
			t.Fatalf("no peer handshake result (dial: %v) stats %+v", err, s.mux.Stats())
		}
	}
	r := <-s.peers
	return a, r, nil
}

func TestMuxRoutesEachProtocol(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", secure), func(t *testing.T) {
			s := newSinglePort(t, MuxConfig{TLS: testPKI.b.ServerConfig(certs.OptionalClientCert)})
			var clientTLS, peerTLS *tls.Config
			var peerDialer Dialer = TCP
			if secure {
				clientTLS = noCertConfig()
				peerTLS = testPKI.a.ClientConfig("b")
				peerDialer = &TLSDialer{Dialer: TCP, Config: peerTLS}
			}
			if got := s.resp(t, clientTLS, "*1\r\n$4\r\nPING\r\n"); got != "+PONG\r\n" {
				t.Fatalf("RESP array: %q", got)
			}
			if got := s.resp(t, clientTLS, "PING\r\n"); got != "+PONG\r\n" {
				t.Fatalf("RESP inline: %q", got)
			}
			if got := s.resp(t, clientTLS, "GET key\r\n"); got != "+PONG\r\n" {
				t.Fatalf("RESP inline GET: %q", got)
			}
			code, body := s.get(t, clientTLS, "/status")
			if code != 200 || body != fmt.Sprintf("hello /status tls=%v", secure) {
				t.Fatalf("HTTP: %d %q", code, body)
			}
			a, r, err := s.peer(t, peerDialer)
			if err != nil || r.err != nil {
				t.Fatalf("peer: %v / %v", err, r.err)
			}
			if secure {
				st, ok := ConnectionState(r.link.NetConn())
				if !ok || certs.PeerName(st) != "a" {
					t.Fatalf("peer TLS state %v %q", ok, certs.PeerName(st))
				}
			}
			exchange(t, a, r.link)
			closeBoth(a, r.link)
			st := s.mux.Stats()
			if st.Routed[RouteRESP] != 3 || st.Routed[RouteHTTP] != 1 || st.Routed[RoutePeer] != 1 {
				t.Fatalf("stats %+v", st)
			}
			if want := map[bool]uint64{false: 0, true: 5}[secure]; st.TLS != want {
				t.Fatalf("TLS count %d, want %d", st.TLS, want)
			}
		})
	}
}

func TestMuxRequireTLS(t *testing.T) {
	s := newSinglePort(t, MuxConfig{TLS: testPKI.b.ServerConfig(certs.OptionalClientCert), RequireTLS: true})
	if got := s.resp(t, nil, "*1\r\n$4\r\nPING\r\n"); !strings.HasPrefix(got, "-ERR") || !strings.Contains(got, "requires TLS") {
		t.Fatalf("plaintext RESP: %q", got)
	}
	code, body := s.get(t, nil, "/")
	if code != http.StatusBadRequest || !strings.Contains(body, "requires TLS") {
		t.Fatalf("plaintext HTTP: %d %q", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Open(ctx, TCP, s.addr, wireConfig("a", "c1")); !errors.Is(err, wire.ErrTLSRequired) || !errors.Is(err, wire.ErrPeerRefused) {
		t.Fatalf("plaintext peer: %v", err)
	}
	// Nothing plaintext was delivered; TLS still works.
	if got := s.resp(t, noCertConfig(), "PING\r\n"); got != "+PONG\r\n" {
		t.Fatalf("TLS RESP: %q", got)
	}
	st := s.mux.Stats()
	if st.Refused[RefusedTLSRequired] != 3 || st.Routed[RouteHTTP] != 0 || st.Routed[RoutePeer] != 0 || st.Routed[RouteRESP] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMuxPeerWithoutClientCert(t *testing.T) {
	s := newSinglePort(t, MuxConfig{TLS: testPKI.b.ServerConfig(certs.OptionalClientCert)})
	cfg := noCertConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, &TLSDialer{Dialer: TCP, Config: cfg}, s.addr, wireConfig("a", "c1"))
	var re *wire.RefusalError
	if !errors.As(err, &re) || re.Reason != wire.ReasonPolicy || !strings.Contains(re.Text, "client certificate") {
		t.Fatalf("err %v", err)
	}
	if st := s.mux.Stats(); st.Refused[RefusedNoClientCert] != 1 || st.Routed[RoutePeer] != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMuxRefusesWrongCA(t *testing.T) {
	s := newSinglePort(t, MuxConfig{TLS: testPKI.b.ServerConfig(certs.OptionalClientCert)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, &TLSDialer{Dialer: TCP, Config: testPKI.foreign.ClientConfig("")}, s.addr, wireConfig("a", "c1"))
	if !errors.Is(err, ErrTLSHandshake) || !errors.Is(err, certs.ErrUntrusted) {
		t.Fatalf("err %v", err)
	}
}

func TestMuxUnknownProtocol(t *testing.T) {
	s := newSinglePort(t, MuxConfig{})
	c := s.dial(t, nil)
	io.WriteString(c, "\x00\x01\x02 not a protocol")
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "spook: unrecognised protocol\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	// TLS offered to a Mux without a TLS config is refused too.
	c2 := s.dial(t, nil)
	io.WriteString(c2, "\x16\x03\x01\x00\x05hello")
	if n, _ := io.Copy(io.Discard, c2); n != 0 {
		t.Fatalf("a TLS-less mux answered %d bytes to a ClientHello", n)
	}
	if st := s.mux.Stats(); st.Refused[RefusedUnknown] != 1 || st.Refused[RefusedNoTLS] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestMuxCloseWithPendingConnections: silent connections and a queue
// nobody accepts from do not hold Close up or leak (TestMain's goleak).
func TestMuxCloseWithPendingConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMux(ln, MuxConfig{PeekTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve() }()
	var conns []net.Conn
	for i := range 5 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i%2 == 0 {
			io.WriteString(c, "PING\r\n") // routed to RESP; nobody accepts
		}
		conns = append(conns, c)
	}
	// Wait until the Mux has seen all five.
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		pending := len(m.unsniff)
		m.mu.Unlock()
		if pending == 2 && m.Stats().Routed[RouteRESP] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending %d, stats %+v", pending, m.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %v", took)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a connection survived Close")
		}
	}
	if _, err := m.RESP().Accept(); !errors.Is(err, ErrMuxClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		in   string
		want Route
		more bool
	}{
		{"", RouteNone, true},
		{wire.Magic, RoutePeer, false},
		{wire.Magic[:3], RouteNone, true},
		{"SET k v\r\n", RouteRESP, false},
		{"*3\r\n", RouteRESP, false},
		{"PING\r\n", RouteRESP, false},
		{"ping\r\n", RouteRESP, false},
		{"GET /x HTTP/1.1", RouteNone, true},
		{"GET /x HTTP/1.1\r\n", RouteHTTP, false},
		{"GET /x HTTP/1.0\n", RouteHTTP, false},
		{"GET /x\r\n", RouteRESP, false},
		{"GET /x y\r\n", RouteRESP, false},
		{"GET /" + strings.Repeat("x", MaxPeekBytes), RouteHTTP, false},
		{"\r\nPING\r\n", RouteRESP, false},
		{"\n", RouteRESP, false},
		{" PING", RouteRESP, false},
		{"GET key", RouteRESP, false},
		{"GET", RouteNone, true},
		{"GET ", RouteNone, true},
		{"POST /", RouteNone, true},
		{"OPTIONS * HTTP/1.1\r\n", RouteHTTP, false},
		{"DELETE /k HTTP/1.1\r\n", RouteHTTP, false},
		{"P", RouteNone, true},
		{"\x16\x03\x01", RouteTLS, false},
		{"\x16", RouteNone, true},
		{"\x16\x02", RouteNone, false},
		{"\x00abc", RouteNone, false},
		{"\x01\x02junk\r\n", RouteNone, false},
		{"\xff", RouteNone, false},
		// Any other text is an inline command to Redis (issue 15).
		{"{}", RouteRESP, false},
		{"\tPING\r\n", RouteRESP, false},
		{"\"PING\"\r\n", RouteRESP, false},
		{"'PING' x\r\n", RouteRESP, false},
		{"1\r\n", RouteRESP, false},
		{"FETCH /x HTTP/1.1\r\n", RouteRESP, false},
	}
	for _, tc := range cases {
		r, more := Classify([]byte(tc.in))
		if r != tc.want || more != tc.more {
			t.Errorf("Classify(%q) = %s,%v; want %s,%v", tc.in, r, more, tc.want, tc.more)
		}
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{wire.Magic, "GET / ", "*1\r\n", "\x16\x03", "PING", "OPTIONS *"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, more := Classify(b)
		if more && len(b) >= MaxPeekBytes {
			// Classify decides by MaxPeekBytes at the latest.
			t.Fatalf("Classify wants more than MaxPeekBytes for %q", b)
		}
		if !more && len(b) > 0 {
			// A decision is stable under more bytes.
			if r2, more2 := Classify(append(b[:len(b):len(b)], 'x')); r2 != r || more2 {
				t.Fatalf("Classify(%q)=%s but with one more byte %s,%v", b, r, r2, more2)
			}
		}
	})
}

// TestWebSocketLinkThroughMux: a peer link over WebSocket on the single
// port's HTTP server, with mutual TLS inside the WebSocket.
func TestWebSocketLinkThroughMux(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMux(ln, MuxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ws := NewWSHandler(ln.Addr())
	routes := http.NewServeMux()
	routes.Handle("/link", ws)
	srv := &http.Server{Handler: routes}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); m.Serve() }()
	go func() { defer wg.Done(); srv.Serve(m.HTTP()) }()
	defer func() {
		ws.Close()
		srv.Close()
		m.Close()
		wg.Wait()
	}()
	accepted := acceptOne(tlsListener{ws, testPKI.b.ServerConfig(certs.RequirePeerCert)}, wireConfig("b", "c1"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := &TLSDialer{Dialer: &WSDialer{}, Config: testPKI.a.ClientConfig("b")}
	a, err := Open(ctx, d, "ws://"+ln.Addr().String()+"/link", wireConfig("a", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		a.Close()
		t.Fatal(r.err)
	}
	exchange(t, a, r.link)
	closeBoth(a, r.link)
	if st := m.Stats(); st.Routed[RouteHTTP] != 1 || st.Routed[RoutePeer] != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestMuxExtraPrefix: a protocol registered in MuxConfig.Prefixes gets its
// own listener, takes precedence over the built-in table, and needs a
// client certificate through TLS like a peer.
func TestMuxExtraPrefix(t *testing.T) {
	if _, err := NewMux(nil, MuxConfig{Prefixes: []string{"AB", "ABC"}}); err == nil {
		t.Fatal("overlapping prefixes accepted")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const bridge = "SPOOKLNK"
	m, err := NewMux(ln, MuxConfig{TLS: testPKI.b.ServerConfig(certs.OptionalClientCert), Prefixes: []string{bridge}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Prefix("nope") != nil {
		t.Fatal("unknown prefix has a listener")
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); m.Serve() }()
	got := make(chan string, 4)
	go func() {
		defer wg.Done()
		for {
			c, err := m.Prefix(bridge).Accept()
			if err != nil {
				return
			}
			b := make([]byte, len(bridge)+1)
			io.ReadFull(c, b)
			got <- string(b)
			c.Close()
		}
	}()
	defer func() { m.Close(); wg.Wait() }()
	s := &singlePort{mux: m, addr: ln.Addr().String()}
	for _, cfg := range []*tls.Config{nil, testPKI.a.ClientConfig("b")} {
		c := s.dial(t, cfg)
		io.WriteString(c, bridge+"I")
		if g := <-got; g != bridge+"I" {
			t.Fatalf("bridge listener got %q", g)
		}
	}
	// Through TLS without a client certificate: refused.
	c := s.dial(t, noCertConfig())
	io.WriteString(c, bridge+"I")
	reply, _ := io.ReadAll(c)
	if !strings.Contains(string(reply), "client certificate") {
		t.Fatalf("bridge without client cert: %q", reply)
	}
	// The magic still routes to Peer: the extra prefix only waits while
	// the bytes could still become it.
	if r, more := classifyWith([]string{bridge}, []byte(wire.Magic)); r != RoutePeer || more {
		t.Fatalf("magic with a bridge prefix: %s %v", r, more)
	}
	if st := m.Stats(); st.PrefixRouted[bridge] != 2 || st.Refused[RefusedNoClientCert] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestMuxSilentConnectionWaits: a connection that sends nothing is not
// closed at the peek timeout (pools open connections ahead of use); once
// it speaks it is routed.
func TestMuxSilentConnectionWaits(t *testing.T) {
	s := newSinglePort(t, MuxConfig{PeekTimeout: 50 * time.Millisecond})
	c := s.dial(t, nil)
	time.Sleep(200 * time.Millisecond) // four peek timeouts
	io.WriteString(c, "PING\r\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("after 200 ms of silence: %q %v", line, err)
	}
}

// TestMuxPartialFirstLine: a connection that sends part of its first
// line is closed at the peek timeout, and while it waits other clients
// are served.
func TestMuxPartialFirstLine(t *testing.T) {
	s := newSinglePort(t, MuxConfig{PeekTimeout: 300 * time.Millisecond})
	var partial []net.Conn
	for range 50 {
		c := s.dial(t, nil)
		io.WriteString(c, "G")
		partial = append(partial, c)
	}
	if got := s.resp(t, nil, "PING\r\n"); got != "+PONG\r\n" {
		t.Fatalf("PING with 50 partial first lines held: %q", got)
	}
	for _, c := range partial {
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("partial first line: read %d, %v; want EOF", n, err)
		}
	}
	if got := s.mux.Stats().Refused[RefusedPeek]; got != 50 {
		t.Fatalf("%d peek refusals, want 50", got)
	}
}

// TestMuxMaxConns: clients fill MaxConns-PeerReserve; beyond that a
// client is refused in its protocol while a peer still gets in; beyond
// MaxConns a connection is closed unread; closing a connection frees its
// place.
func TestMuxMaxConns(t *testing.T) {
	s := newSinglePort(t, MuxConfig{MaxConns: 4, PeerReserve: 2})
	waitConns := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for s.mux.Stats().Conns != want {
			if time.Now().After(deadline) {
				t.Fatalf("stats %+v, want %d conns", s.mux.Stats(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	a := s.dial(t, nil) // silent clients: the client share is full
	b := s.dial(t, nil)
	waitConns(2)
	refused := s.dial(t, nil)
	io.WriteString(refused, "PING\r\n")
	if got, _ := bufio.NewReader(refused).ReadString('\n'); got != "-ERR max number of clients reached\r\n" {
		t.Fatalf("client over the client share: %q", got)
	}
	refused.Close()
	waitConns(2) // a refused connection is uncounted once its handler ends
	if status, _ := s.get(t, nil, "/x"); status != http.StatusServiceUnavailable {
		t.Fatalf("HTTP client over the client share: %d", status)
	}
	waitConns(2)
	link, r, err := s.peer(t, TCP)
	if err != nil || r.err != nil {
		t.Fatalf("peer in the reserve: %v / %v", err, r.err)
	}
	defer closeBoth(link, r.link)
	c := s.dial(t, nil) // the fourth: in the reserve, silent
	waitConns(4)
	d := s.dial(t, nil) // the fifth: over MaxConns
	if n, err := d.Read(make([]byte, 1)); err == nil {
		t.Fatalf("a connection over MaxConns read %d bytes", n)
	}
	c.Close()
	a.Close()
	waitConns(2)
	if got := s.resp(t, nil, "PING\r\n"); got != "+PONG\r\n" {
		t.Fatalf("PING after a client left: %q", got)
	}
	b.Close()
	st := s.mux.Stats()
	if st.Refused[RefusedConnLimit] != 1 || st.Refused[RefusedClientLimit] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// flakyListener fails Accept with errs in turn, then accepts.
type flakyListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestMuxAcceptBackoff: running out of descriptors makes Accept back off
// and recover, not end Serve; another error ends Serve and stays in Err.
func TestMuxAcceptBackoff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	fl := &flakyListener{Listener: ln, errs: []error{emfile, emfile, emfile}}
	m, err := NewMux(fl, MuxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "PING\r\n")
	rc, err := m.RESP().Accept()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if m.Err() != nil {
		t.Fatalf("Err after recovering: %v", m.Err())
	}
	m.Close()
	if err := <-served; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}

	dead := errors.New("listener broke")
	fl = &flakyListener{Listener: ln, errs: []error{dead}}
	m, err = NewMux(fl, MuxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Serve(); !errors.Is(err, dead) || !errors.Is(m.Err(), dead) {
		t.Fatalf("Serve %v, Err %v; want %v", err, m.Err(), dead)
	}
}
