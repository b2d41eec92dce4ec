package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/spooksystems/spook/api/http"
	"github.com/spooksystems/spook/api/resp"
	"github.com/spooksystems/spook/internal/buildinfo"
	"github.com/spooksystems/spook/transport"
)

const (
	// bridgePrefaceTimeout bounds reading a bridge's role byte.
	bridgePrefaceTimeout = 5 * time.Second
	// httpShutdownGrace bounds how long Close waits for HTTP requests in
	// flight (watch streams are ended first) before closing them.
	httpShutdownGrace = 2 * time.Second
	// ReservedFileDescriptors is how many of the process's descriptors
	// (RLIMIT_NOFILE) the single port leaves to everything but inbound
	// connections: the listener, the log and snapshot files, outbound
	// peer links and dials, the runtime's poller and stdio. Inbound
	// connections are capped at the limit minus this
	// (transport.MuxConfig.MaxConns), so accept never runs out of
	// descriptors; a connection over the cap is closed unread.
	ReservedFileDescriptors = 128
	// PeerConnReserve is how many of those inbound connections only peers
	// may use (transport.MuxConfig.PeerReserve): clients beyond the rest
	// are refused ("-ERR max number of clients reached", HTTP 503) while
	// peers still get in.
	PeerConnReserve = 32
	// MinInboundConns is the least room for inbound connections a node
	// starts with; a lower descriptor limit is refused at start.
	MinInboundConns = 2 * PeerConnReserve
)

// inboundConnLimit derives the single port's connection cap from the
// descriptor limit fds (0: unknown, no cap).
func inboundConnLimit(fds int) (int, error) {
	if fds == 0 {
		return 0, nil
	}
	if n := fds - ReservedFileDescriptors; n >= MinInboundConns {
		return n, nil
	}
	return 0, fmt.Errorf("node: file descriptor limit %d is too low: need at least %d (%d reserved, %d for connections); raise it with ulimit -n",
		fds, ReservedFileDescriptors+MinInboundConns, ReservedFileDescriptors, MinInboundConns)
}

// ingress serves the single port. A transport.Mux classifies each
// connection by its first bytes (terminating TLS and looking again): peer
// links to serveInbound, bridged links (BridgePreface) to serveBridged,
// RESP to the Redis server, HTTP to the HTTP API. Peer links over
// WebSocket arrive at the HTTP API's /v1/peer and go through a second Mux
// over that endpoint, so TLS and RequireTLS apply on that medium too.
type ingress struct {
	n     *Node
	mux   *transport.Mux
	ws    *transport.WSHandler
	wsMux *transport.Mux
	resp  *resp.Server
	http  *httpapi.Server
	wg    sync.WaitGroup

	peerMu   sync.Mutex
	peerConn map[net.Conn]struct{} // open inbound peer links, closed by close
}

func startIngress(n *Node, ln net.Listener) (*ingress, error) {
	in := &ingress{n: n, peerConn: map[net.Conn]struct{}{}}
	maxConns, err := inboundConnLimit(openFileLimit())
	if err != nil {
		return nil, err
	}
	// Probes reach /healthz, /readyz and /metrics without a client
	// certificate; everything else still needs one (transport/tls.go).
	serverTLS, certRequired := transport.RelaxClientAuth(n.cfg.ServerTLS)
	cfg := transport.MuxConfig{
		TLS:               serverTLS,
		RequireTLS:        n.cfg.RequireTLS,
		RequireClientCert: certRequired,
		Logger:            n.log,
		Prefixes:          []string{BridgePreface},
	}
	// WebSocket peer links arrive through HTTP connections the outer Mux
	// already counts.
	wsCfg := cfg
	if maxConns > 0 {
		cfg.MaxConns, cfg.PeerReserve = maxConns, PeerConnReserve
	}
	if in.mux, err = transport.NewMux(ln, cfg); err != nil {
		return nil, err
	}
	in.ws = transport.NewWSHandler(ln.Addr())
	if in.wsMux, err = transport.NewMux(in.ws, wsCfg); err != nil {
		return nil, err
	}
	in.resp = resp.New(n, resp.Config{Password: n.cfg.Password, Users: n.cfg.Users, Version: buildinfo.Get().Short()})
	httpCfg := httpapi.Config{Token: n.cfg.Token, Password: n.cfg.Password, Users: n.cfg.Users,
		Metrics: n.metrics.handler(), Ready: n.ready, Peer: in.ws,
		Audit: n.auditHandler()}
	if certRequired {
		httpCfg.ClientCertMissing, httpCfg.OpenPaths = transport.ClientCertMissing, transport.OpenProbePaths
	}
	in.http = httpapi.New(n, httpCfg)
	// Messages PUBLISHed on other members reach this node's subscribers;
	// the text editors' presence (httpapi.PresenceChannelPrefix) reaches
	// the text WebSockets instead.
	n.SetPublishHandler(func(channel, message []byte) {
		if !in.http.DeliverPublished(channel, message) {
			in.resp.DeliverPublished(channel, message)
		}
	})
	in.goServe(func() {
		if err := in.mux.Serve(); err != nil {
			n.log.Error("single port: listener failed; this node is unreachable and not ready", "err", err)
		}
	})
	in.goServe(func() { in.wsMux.Serve() })
	in.goServe(func() { in.resp.Serve(in.mux.RESP()) })
	in.goServe(func() { in.http.Serve(in.mux.HTTP()) })
	for _, m := range []*transport.Mux{in.mux, in.wsMux} {
		in.goServe(func() { in.acceptPeers(m.Peer(), n.serveInbound) })
		in.goServe(func() { in.acceptPeers(m.Prefix(BridgePreface), in.serveBridge) })
	}
	return in, nil
}

func (in *ingress) goServe(f func()) {
	in.wg.Add(1)
	go func() { defer in.wg.Done(); f() }()
}

func (in *ingress) addr() string { return in.mux.Addr().String() }

// err is the error that stopped the single port's listener for good
// (transport.Mux.Err), or nil while it serves: node.ready reports it, as
// a node nobody can reach is not ready.
func (in *ingress) err() error {
	if err := in.mux.Err(); err != nil {
		return fmt.Errorf("listener stopped: %w", err)
	}
	return nil
}

// acceptPeers serves every connection of l with serve, tracking each so
// close can end it.
func (in *ingress) acceptPeers(l net.Listener, serve func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		in.peerMu.Lock()
		in.peerConn[c] = struct{}{}
		in.peerMu.Unlock()
		in.goServe(func() {
			serve(c)
			in.peerMu.Lock()
			delete(in.peerConn, c)
			in.peerMu.Unlock()
		})
	}
}

// serveBridge reads a bridge's preface and role byte, then runs the
// bridged session.
func (in *ingress) serveBridge(c net.Conn) {
	var preface [len(BridgePreface) + 1]byte
	c.SetReadDeadline(time.Now().Add(bridgePrefaceTimeout))
	_, err := io.ReadFull(c, preface[:])
	role := preface[len(BridgePreface)]
	if err != nil || (role != BridgeInitiate && role != BridgeRespond) {
		in.n.log.Warn("malformed bridge preface", "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	in.n.serveBridged(c, role)
}

// close stops accepting, shuts the client servers down and ends inbound
// peer links.
func (in *ingress) close() {
	in.mux.Close()
	in.ws.Close()
	in.wsMux.Close()
	ctx, cancel := context.WithTimeout(context.Background(), httpShutdownGrace)
	defer cancel()
	if err := in.http.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		in.n.log.Debug("http shutdown", "err", err)
	}
	in.resp.Close()
	in.peerMu.Lock()
	for c := range in.peerConn {
		c.Close()
	}
	in.peerMu.Unlock()
	in.wg.Wait()
}
