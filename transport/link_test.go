package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooksystems/spook/transport/certs"
	"github.com/spooksystems/spook/transport/mem"
	"github.com/spooksystems/spook/wire"
)

// medium is one way to connect two ends: a Dialer, an address and a
// listener for the other end.
type medium struct {
	name   string
	dialer Dialer
	addr   string
	ln     net.Listener
}

// oneShot is a listener that hands out one pre-made connection; for media
// that have no listener of their own (net.Pipe, os.Pipe streams).
type oneShot struct {
	c      chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newOneShot(c net.Conn) *oneShot {
	o := &oneShot{c: make(chan net.Conn, 1), closed: make(chan struct{})}
	o.c <- c
	return o
}

func (o *oneShot) Accept() (net.Conn, error) {
	select {
	case c := <-o.c:
		return c, nil
	case <-o.closed:
		return nil, net.ErrClosed
	}
}

func (o *oneShot) Close() error {
	o.once.Do(func() {
		close(o.closed)
		select {
		case c := <-o.c:
			c.Close()
		default:
		}
	})
	return nil
}
func (o *oneShot) Addr() net.Addr { return streamAddr("one-shot") }

func pipeDialer(c net.Conn) Dialer {
	return DialerFunc(func(context.Context, string) (net.Conn, error) { return c, nil })
}

// media builds every medium; each is cleaned up with the test.
func media(t *testing.T) []medium {
	t.Helper()
	var out []medium

	pa, pb := net.Pipe()
	out = append(out, medium{"net.Pipe", pipeDialer(pa), "", newOneShot(pb)})

	// Two os.Pipe()s make a duplex byte stream, as stdin/stdout would.
	r1, w1, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	client := StreamConn(Duplex(r1, w2), "client", "server")
	server := StreamConn(Duplex(r2, w1), "server", "client")
	out = append(out, medium{"os.Pipe stream", pipeDialer(client), "", newOneShot(server)})

	network := mem.NewNetwork()
	ml, err := network.Listen("b")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, medium{"mem", network, "b", ml})

	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, medium{"tcp", TCP, tl.Addr().String(), tl})

	path := filepath.Join(t.TempDir(), "b.sock")
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, medium{"unix", Unix, path, ul})

	ws := NewWSHandler(nil)
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	out = append(out, medium{"websocket", &WSDialer{}, "ws" + strings.TrimPrefix(srv.URL, "http") + "/link", ws})

	for _, m := range out {
		t.Cleanup(func() { m.ln.Close() })
	}
	return out
}

// serverTLS wraps a listener's connections in TLS (server side), the way
// the Mux does for a shared port.
type tlsListener struct {
	net.Listener
	cfg *tls.Config
}

func (l tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc, err := ServerTLS(ctx, c, l.cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

type acceptResult struct {
	link *Link
	err  error
}

// acceptOne accepts one connection on ln and runs the responder handshake.
func acceptOne(ln net.Listener, cfg wire.Config) <-chan acceptResult {
	done := make(chan acceptResult, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- acceptResult{nil, err}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l, err := Accept(ctx, c, cfg)
		done <- acceptResult{l, err}
	}()
	return done
}

// exchange sends frames both ways at once and checks them.
func exchange(t *testing.T, a, b *Link) {
	t.Helper()
	const frames = 50
	payload := func(from string, i int) []byte { return bytes.Repeat([]byte(from), 1+i*97) }
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, side := range []struct {
		l    *Link
		from string
	}{{a, "a"}, {b, "b"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range frames {
				if err := side.l.WriteFrame(wire.TypeMessage, payload(side.from, i)); err != nil {
					errs <- err
					return
				}
			}
			errs <- side.l.Flush()
		}()
	}
	for _, side := range []struct {
		l    *Link
		from string
	}{{b, "a"}, {a, "b"}} {
		for i := range frames {
			typ, p, err := side.l.ReadFrame()
			if err != nil || typ != wire.TypeMessage || !bytes.Equal(p, payload(side.from, i)) {
				t.Fatalf("frame %d from %s: %v, %d bytes, %v", i, side.from, typ, len(p), err)
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestLinkOverEveryMedium(t *testing.T) {
	for _, secure := range []bool{false, true} {
		for _, m := range media(t) {
			t.Run(fmt.Sprintf("%s/tls=%v", m.name, secure), func(t *testing.T) {
				dialer, ln := m.dialer, m.ln
				if secure {
					dialer = &TLSDialer{Dialer: dialer, Config: testPKI.a.ClientConfig("b")}
					ln = tlsListener{ln, testPKI.b.ServerConfig(certs.RequirePeerCert)}
				}
				accepted := acceptOne(ln, wireConfig("b", "c1"))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				a, err := Open(ctx, dialer, m.addr, wireConfig("a", "c1"))
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				r := <-accepted
				if r.err != nil {
					a.Close()
					t.Fatalf("accept: %v", r.err)
				}
				b := r.link
				// Close both ends at once: closing one alone waits for the
				// other to read its close (TLS close_notify, WebSocket close).
				defer closeBoth(a, b)
				if a.Remote().NodeName != "b" || b.Remote().NodeName != "a" {
					t.Fatalf("remotes %q %q", a.Remote().NodeName, b.Remote().NodeName)
				}
				if secure {
					st, ok := ConnectionState(b.NetConn())
					if !ok || st.Version != tls.VersionTLS13 || certs.PeerName(st) != "a" {
						t.Fatalf("server side TLS state: ok=%v version=%x peer=%q", ok, st.Version, certs.PeerName(st))
					}
				}
				exchange(t, a, b)
				// Orderly close reaches the other end.
				closed := make(chan error, 1)
				go func() { closed <- a.WriteClose(wire.ReasonShutdown, "done") }()
				if _, _, err := b.ReadFrame(); !errors.Is(err, wire.ErrPeerClosed) {
					t.Fatalf("after close: %v", err)
				}
				if err := <-closed; err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestTLSRefusals: wrong CA and expired certificates, from either side,
// fail the TLS handshake on both ends and no link comes up.
func TestTLSRefusals(t *testing.T) {
	cases := []struct {
		name           string
		client, server *certs.Bundle
		clientErr      func(error) bool
	}{
		{"server from another CA", testPKI.a, testPKI.foreignB(), isUnknownAuthority},
		{"client from another CA", testPKI.foreign, testPKI.b, isAny},
		{"server certificate expired", testPKI.a, testPKI.expiredB(), isExpired},
		{"client certificate expired", testPKI.expired, testPKI.b, isAny},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := acceptOne(tlsListener{ln, tc.server.ServerConfig(certs.RequirePeerCert)}, wireConfig("b", "c1"))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d := &TLSDialer{Dialer: TCP, Config: tc.client.ClientConfig("")}
			link, err := Open(ctx, d, ln.Addr().String(), wireConfig("a", "c1"))
			if err == nil {
				link.Close()
			}
			r := <-accepted
			if r.link != nil {
				r.link.Close()
			}
			if !errors.Is(err, ErrTLSHandshake) || !tc.clientErr(err) {
				t.Fatalf("client: %v", err)
			}
			if !errors.Is(r.err, ErrTLSHandshake) {
				t.Fatalf("server: %v", r.err)
			}
		})
	}
}

func isAny(error) bool { return true }

func isUnknownAuthority(err error) bool {
	var ua x509UnknownAuthority
	return errors.Is(err, certs.ErrUntrusted) && errors.As(err, &ua)
}

func isExpired(err error) bool {
	var ci x509CertificateInvalid
	return errors.Is(err, certs.ErrUntrusted) && errors.As(err, &ci) && ci.Reason == x509Expired
}

func TestClusterMismatchOverTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := acceptOne(tlsListener{ln, testPKI.b.ServerConfig(certs.RequirePeerCert)}, wireConfig("b", "cluster-1"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := &TLSDialer{Dialer: TCP, Config: testPKI.a.ClientConfig("b")}
	// The admission proofs bind the cluster id: the initiator finds the
	// responder's proof wrong and refuses before either sends a Hello.
	_, err = Open(ctx, d, ln.Addr().String(), wireConfig("a", "cluster-2"))
	if !errors.Is(err, wire.ErrAdmission) || errors.Is(err, wire.ErrPeerRefused) {
		t.Fatalf("initiator: %v", err)
	}
	if r := <-accepted; !errors.Is(r.err, wire.ErrAdmission) || !errors.Is(r.err, wire.ErrPeerRefused) || r.link != nil {
		t.Fatalf("responder: %v", r.err)
	}
}

func TestOpenHonoursContext(t *testing.T) {
	// A listener that accepts but never answers: the handshake must end
	// when ctx does.
	network := mem.NewNetwork()
	ln, err := network.Listen("silent")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.ReadFull(c, make([]byte, len(wire.Magic))) // then silence
		cancel()
	}()
	_, err = Open(ctx, network, "silent", wireConfig("a", "c1"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestWSDialerRejectsNonWSURL(t *testing.T) {
	if _, err := (&WSDialer{}).Dial(context.Background(), "http://127.0.0.1:1/"); !errors.Is(err, ErrBadURL) {
		t.Fatalf("err %v", err)
	}
}

func TestWSHandlerRefusesAfterClose(t *testing.T) {
	ws := NewWSHandler(nil)
	srv := httptest.NewServer(ws)
	defer srv.Close()
	ws.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := ws.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
}

func closeBoth(a, b *Link) {
	// Keep reading while closing so close messages written into
	// unbuffered media (net.Pipe) are consumed.
	var wg sync.WaitGroup
	for _, l := range []*Link{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); io.Copy(io.Discard, l.NetConn()) }()
	}
	done := make(chan struct{})
	go func() { a.Close(); close(done) }()
	b.Close()
	<-done
	wg.Wait()
}
