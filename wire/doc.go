// Package wire is the link protocol between two Spook nodes: how a byte
// stream starts (magic and handshake), how it is cut into frames, and how
// each frame is checked. It does no I/O of its own beyond reading and
// writing the io.ReadWriter it is given, and starts no goroutines; package
// transport supplies the byte streams (TCP, TLS, WebSocket, Unix socket,
// pipes, memory) and package replica owns the content of Message frames.
//
// # Stream
//
// A link is one ordered, reliable byte stream. Both directions start with
// the 7-byte Magic "SPOOK\x00\x01" (also what transport's single-port
// sniffer recognises), followed by frames:
//
//	stream  = Magic frame*
//
//	frame:
//	+---------------+--------+---------------------+----------------+
//	| length        | type   | payload             | checksum       |
//	| 4 bytes, BE   | 1 byte | length-1 bytes      | 4 bytes, BE    |
//	+---------------+--------+---------------------+----------------+
//
//	length    uint32 big-endian: bytes of type + payload, so 1 <= length
//	          <= the receiver's limit (Config.MaxFrameBytes, default
//	          DefaultMaxFrameBytes = 16 MiB, announced in the receiver's
//	          Hello so the sender never exceeds it; MaxHandshakeFrameBytes
//	          = 4 KiB before the handshake completes). 0 and larger values
//	          are refused with ErrMalformed / ErrFrameTooLarge before any
//	          payload is read; the read buffer grows with the bytes that
//	          arrive, not with the length claimed.
//	type      one of the Type constants (append-only).
//	payload   type-specific; Message payloads are opaque to this package.
//	checksum  CRC-32C (Castagnoli) over
//	            seed ‖ sequence (8 bytes BE) ‖ length ‖ type ‖ payload
//	          where neither seed nor sequence is sent:
//	            sequence  counts the frames sent in this direction since
//	                      the handshake phase began (0, 1, 2, ...); both
//	                      ends count, so a dropped, replayed or reordered
//	                      frame fails the checksum.
//	            seed      before the handshake completes: the constant
//	                      handshake label; after: the sender's session
//	                      nonce ‖ the receiver's session nonce ‖ label, so a
//	                      frame from another session, or reflected back to
//	                      its sender, fails the checksum.
//
// The checksum is integrity, not authenticity: CRC-32C detects corruption,
// framing bugs, replays and splices by accident or by a careless middlebox,
// but anyone who can write to the stream can compute it. Admission comes
// from the handshake's proof of the cluster key (below); authenticity and
// confidentiality of the frames come from TLS 1.3 with mutual certificate
// authentication, which package transport runs underneath this package on
// every medium.
//
// # Frame types
//
//	1 Hello       handshake: who I am and what I speak (see Hello)
//	2 HelloReply  handshake: accept with the chosen version, or refuse
//	              with a Reason code and text
//	3 Message     replication payload, owned by package replica
//	4 Close       orderly close with a Reason code and text
//	5 Challenge   handshake (version 2): version range, session nonce and,
//	              from the responder, its admission proof
//	6 Proof       handshake (version 2): the initiator's admission proof
//	7..255        reserved; a frame type unknown at the negotiated version
//	              is an error (ErrUnknownType), so adding one is a version
//	              bump
//
// # Versions
//
//	version  handshake                               frames
//	1        Magic, Hello, HelloReply (no proof)     1-4
//	2        Magic, Challenge, Proof, Hello, ...     1-6; admission proof
//
// This build speaks [MinVersion, MaxVersion] = [2, 2]. A version 1 node
// opens with a Hello and is refused with no_common_version before it
// learns anything about this node.
//
// # Handshake
//
// The dialing side is the Initiator, the accepting side the Responder.
// Roles are fixed so the handshake works over unbuffered streams such as
// net.Pipe: no step needs both ends writing at once. The responder faces
// strangers, so it says nothing identifying before the initiator has
// proven it holds the cluster key:
//
//	Initiator                              Responder
//	Magic, Challenge(nI)       ───────►
//	                           ◄───────    Magic, Challenge(nR, proofR)
//	check proofR
//	Proof(proofI), Hello(I)    ───────►
//	or HelloReply(refuse admission)
//	                                       check proofI, then Hello(I)
//	                           ◄───────    Hello(R), HelloReply(accept v)
//	                                   or  HelloReply(refuse reason)
//	check Hello(R) and v
//	HelloReply(accept v)       ───────►
//	or HelloReply(refuse reason)
//
// A proof is HMAC-SHA256 keyed by the cluster key (Config.ClusterKey)
// over a fixed label, the prover's role byte, nI, nR and the cluster id.
// The key itself is never sent; the fresh nonce of the other side makes a
// recorded proof useless in a new session (replay), the role byte keeps
// the responder's proof from being reflected back as the initiator's, and
// the cluster id keeps two clusters that share a key apart. A cluster
// without a key proves with the empty key: that binds only the cluster
// id and admits anyone who knows it, so such a cluster must admit peers
// by TLS client certificate instead (package transport, and the node's
// Accept policy, which binds the certificate to the Hello's node). A
// stranger without the key learns the version range and a random nonce,
// nothing more; the refusal it gets names neither the node nor the
// cluster. Each Hello's nonce must equal its sender's Challenge nonce.
//
// The proof admits a peer; it does not protect the frames that follow.
// On a network where someone can rewrite the stream, use TLS, which
// package transport runs underneath this package on every medium.
//
// Each side checks: the proofs verify (ErrAdmission), the cluster ids are
// equal (ErrClusterMismatch), the version ranges overlap
// (ErrNoCommonVersion; the chosen version is the highest both support),
// the node ids differ (ErrSameNode), and the caller's Config.Accept
// policy (ErrPolicy, or the sentinel it chose, such as ErrRemoved for a
// node an operator removed). A refusal is sent to the peer where the
// stream allows it, so both logs show the same reason; a peer's refusal is
// returned as a *RefusalError that matches both ErrPeerRefused and the
// sentinel of its reason under errors.Is. Hello fields are append-only: a
// decoder ignores bytes after the fields it knows, so a later version can
// add fields and still negotiate with this one.
//
// Handshake sets no deadlines: the caller bounds it with deadlines on the
// underlying connection (transport does).
//
// # Use
//
//	conn, err := wire.Handshake(stream, wire.Initiator, wire.Config{Local: hello, ClusterKey: key})
//	if err != nil { ... }            // errors.Is(err, wire.ErrAdmission), ...
//	conn.WriteFrame(wire.TypeMessage, payload)
//	conn.Flush()
//	t, payload, err := conn.ReadFrame() // payload valid until the next ReadFrame
//
// A Conn is safe for one goroutine reading and one goroutine writing at the
// same time, not more: ReadFrame must not be called concurrently with
// itself, nor WriteFrame/Flush/WriteClose with each other. After a read
// error every later ReadFrame returns the same error (the sequence is lost,
// so the link is dead); the same holds for writes.
//
// Metrics: Config.Counters, if set, counts refusals sent and received and
// frame errors by Reason. The struct is safe for concurrent use by many
// Conns; the node exports it to Prometheus. The package holds no global
// state.
package wire
