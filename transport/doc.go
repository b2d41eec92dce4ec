// Package transport carries Spook links over any medium that moves bytes,
// with the same security on each, and serves peers, RESP clients and HTTP
// clients on one port.
//
// Media. Every medium is a Dialer (Dial(ctx, addr) (net.Conn, error)) and
// a net.Listener:
//
//	TCP          transport.TCP (host:port)           net.Listen("tcp", ...)
//	Unix socket  transport.Unix (path)               net.Listen("unix", ...)
//	WebSocket    &transport.WSDialer{} (ws:// URL)   transport.NewWSHandler (http.Handler + net.Listener)
//	any stream   transport.StreamConn(rwc, ...)      (stdin/stdout via Duplex, pipes, serial)
//	memory       transport/mem.Network (name)        mem.Network.Listen
//
// Security. TLS 1.3 with mutual certificate authentication runs over the
// byte stream of any medium: TLSDialer wraps any Dialer (client side) and
// ServerTLS / the Mux terminate it (server side), with configs from
// transport/certs (cluster CA, ed25519 node certificates). The wire
// checksum detects corruption and replays; TLS is what authenticates.
//
// Links. Open(ctx, dialer, addr, cfg) dials and runs the wire handshake as
// initiator; Accept(ctx, conn, cfg) runs it as responder. Both return a
// *Link whose embedded *wire.Conn reads and writes frames.
//
//	d := &transport.TLSDialer{Dialer: transport.TCP, Config: bundle.ClientConfig("")}
//	link, err := transport.Open(ctx, d, "10.0.0.5:7400", wire.Config{Local: hello})
//
// Single port. Mux wraps one net.Listener and routes each connection by
// its first bytes (Classify): wire.Magic to Peer(), RESP to RESP(), HTTP
// to HTTP(); a TLS ClientHello is terminated with MuxConfig.TLS and the
// inner bytes are routed the same way. A peer must present a verified
// client certificate; RESP and HTTP clients may or may not, per the TLS
// config. MuxConfig.Prefixes adds node-to-node protocols by their first
// bytes, each with its own listener. MuxConfig.RequireTLS refuses
// plaintext with a reason the client understands. A connection may stay
// silent before its first byte (client pools open connections ahead of
// use); from its first byte, classification and a TLS handshake are
// bounded by MuxConfig.PeekTimeout. MuxConfig.MaxConns bounds the
// connections open through the Mux, with MuxConfig.PeerReserve of them
// kept for peers; a failed Accept backs off and retries (Mux.Err reports
// the error that ended Serve). Close stops every goroutine the Mux
// started.
//
// Concurrency: Dialers, Mux and its listeners, and WSHandler are safe for
// concurrent use. A Link is for one reader and one writer goroutine.
package transport
