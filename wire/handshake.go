package wire

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Role says which end of a link a side is. The dialer is the Initiator.
type Role uint8

const (
	Initiator Role = 1
	Responder Role = 2
)

// Config is one side's handshake input. The zero value is not usable:
// Local must describe this node.
type Config struct {
	// Local is this node's Hello. A zero version range means
	// [MinVersion, MaxVersion], the versions this build speaks; a node
	// must not advertise others (tests do, to exercise negotiation). A
	// zero Nonce is filled from crypto/rand; MaxFrameBytes is overwritten
	// from the field below.
	Local Hello
	// ClusterKey is the cluster's admission secret, MinClusterKeyBytes to
	// MaxClusterKeyBytes long, the same on every member. Each side proves
	// it holds it (see doc.go); it is never sent. Empty means the
	// cluster has no key: the proofs then bind only the cluster id, and
	// admission must come from elsewhere (TLS client certificates).
	ClusterKey []byte
	// Accept, if set, is asked about a peer whose Hello passed the
	// built-in checks; a non-nil error refuses the peer with
	// ReasonPolicy and the error's text, or with the reason of a
	// sentinel of this package the error wraps (ErrRemoved,
	// ErrAdmission). It runs on the handshake's goroutine and should
	// not block.
	Accept func(remote Hello) error
	// MaxFrameBytes limits the length (type + payload) of frames this
	// side accepts after the handshake. It is sent in Hello (overriding
	// Local.MaxFrameBytes) and the peer never sends more. Zero means
	// DefaultMaxFrameBytes.
	MaxFrameBytes int
	// BufferBytes sizes the read and write buffers. Zero means
	// DefaultBufferBytes.
	BufferBytes int
	// Counters, if set, counts refusals and frame errors.
	Counters *Counters
}

func (c *Config) validate() error {
	if c.Local.MinVersion == 0 && c.Local.MaxVersion == 0 {
		c.Local.MinVersion, c.Local.MaxVersion = MinVersion, MaxVersion
	}
	if c.Local.Nonce == ([NonceBytes]byte{}) {
		if _, err := rand.Read(c.Local.Nonce[:]); err != nil {
			return fmt.Errorf("%w: nonce: %w", ErrConfig, err)
		}
	}
	if n := len(c.ClusterKey); n != 0 && (n < MinClusterKeyBytes || n > MaxClusterKeyBytes) {
		return fmt.Errorf("%w: ClusterKey of %d bytes outside [%d, %d]", ErrConfig, n, MinClusterKeyBytes, MaxClusterKeyBytes)
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.MaxFrameBytes < MaxHandshakeFrameBytes || c.MaxFrameBytes > MaxFrameBytesLimit {
		return fmt.Errorf("%w: MaxFrameBytes %d outside [%d, %d]", ErrConfig, c.MaxFrameBytes, MaxHandshakeFrameBytes, MaxFrameBytesLimit)
	}
	c.Local.MaxFrameBytes = uint32(c.MaxFrameBytes)
	if c.BufferBytes == 0 {
		c.BufferBytes = DefaultBufferBytes
	}
	if c.BufferBytes < 16 {
		return fmt.Errorf("%w: BufferBytes %d", ErrConfig, c.BufferBytes)
	}
	if err := c.Local.validate(); err != nil {
		return fmt.Errorf("%w: local hello: %w", ErrConfig, err)
	}
	return nil
}

// Handshake runs the handshake on rw as role (see doc.go for the
// exchange) and returns a Conn ready for Message frames. On failure it
// has sent a refusal to the peer where the protocol allows, and returns an
// error matching one of the sentinels (ErrConfig, ErrBadMagic,
// ErrMalformed, ErrChecksum, ErrFrameTooLarge, ErrUnknownType,
// ErrUnexpectedType, ErrAdmission, ErrClusterMismatch, ErrNoCommonVersion,
// ErrSameNode, ErrPolicy, or a sentinel Config.Accept chose), a *RefusalError if the peer refused, or the stream's own
// error (io.EOF, a timeout). It sets no deadlines; the caller closes rw on error.
func Handshake(rw io.ReadWriter, role Role, cfg Config) (*Conn, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := newConn(rw, cfg.BufferBytes, cfg.Counters)
	var err error
	switch role {
	case Initiator:
		err = c.initiate(&cfg)
	case Responder:
		err = c.respond(&cfg)
	default:
		panic("wire: Handshake with an invalid Role")
	}
	if err != nil {
		return nil, err
	}
	// Session phase: new seeds, sequences from zero, the session limit.
	c.writeSeed = sessionSeed(cfg.Local.Nonce, c.remote.Nonce)
	c.readSeed = sessionSeed(c.remote.Nonce, cfg.Local.Nonce)
	c.writeSequence, c.readSequence = 0, 0
	c.maxFrameBytes = cfg.MaxFrameBytes
	c.maxWriteFrameBytes = int(c.remote.MaxFrameBytes)
	c.common = cfg.Local.Capabilities & c.remote.Capabilities
	return c, nil
}

func (c *Conn) initiate(cfg *Config) error {
	nonceI := cfg.Local.Nonce
	local := challenge{minVersion: cfg.Local.MinVersion, maxVersion: cfg.Local.MaxVersion, nonce: nonceI}
	if err := c.writeMagic(); err != nil {
		return err
	}
	if err := c.writeFrame(TypeChallenge, appendChallenge(nil, local)); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	if err := c.readMagic(); err != nil {
		return err
	}
	t, payload, err := c.readFrame()
	if err != nil {
		return c.refuse(err)
	}
	switch t {
	case TypeHelloReply:
		return c.readRefusal(payload, false)
	case TypeChallenge:
	default:
		return c.refuse(fmt.Errorf("%w: %s before Challenge", ErrUnexpectedType, t))
	}
	remoteChallenge, err := decodeChallenge(payload, true)
	if err != nil {
		return c.refuse(err)
	}
	nonceR := remoteChallenge.nonce
	want := proof(cfg.ClusterKey, Responder, nonceI, nonceR, cfg.Local.ClusterID)
	if !hmac.Equal(remoteChallenge.proof, want) {
		return c.refuse(fmt.Errorf("%w: the node we dialled did not prove the cluster key: it holds another key (or none where we have one), or is not in cluster %q", ErrAdmission, cfg.Local.ClusterID))
	}
	// The responder is proven: prove ourselves and introduce ourselves.
	if err := c.writeFrame(TypeProof, proof(cfg.ClusterKey, Initiator, nonceI, nonceR, cfg.Local.ClusterID)); err != nil {
		return err
	}
	if err := c.writeFrame(TypeHello, AppendHello(nil, cfg.Local)); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	t, payload, err = c.readFrame()
	if err != nil {
		return c.refuse(err)
	}
	switch t {
	case TypeHelloReply:
		// A refusal comes without the responder's Hello.
		return c.readRefusal(payload, false)
	case TypeHello:
	default:
		return c.refuse(fmt.Errorf("%w: %s before Hello", ErrUnexpectedType, t))
	}
	remote, err := DecodeHello(payload)
	if err != nil {
		return c.refuse(err)
	}
	if remote.Nonce != nonceR {
		return c.refuse(fmt.Errorf("%w: the responder's Hello carries another nonce than its Challenge", ErrMalformed))
	}
	version, checkErr := check(cfg, remote)
	// Read the responder's verdict before giving ours: if it refused us,
	// its reason is the one worth reporting.
	t, payload, err = c.readFrame()
	if err != nil {
		return c.refuse(err)
	}
	if t != TypeHelloReply {
		return c.refuse(fmt.Errorf("%w: %s instead of HelloReply", ErrUnexpectedType, t))
	}
	if err := c.readRefusal(payload, true); err != nil {
		return err
	}
	if checkErr != nil {
		return c.refuse(checkErr)
	}
	_, chosen, _, _ := decodeReply(payload) // readRefusal validated it
	if chosen != version {
		return c.refuse(fmt.Errorf("%w: responder chose version %d, expected %d", ErrMalformed, chosen, version))
	}
	c.remote, c.version = remote, version
	if err := c.writeFrame(TypeHelloReply, appendReply(nil, ReasonNone, version, "")); err != nil {
		return err
	}
	return c.Flush()
}

func (c *Conn) respond(cfg *Config) error {
	if err := c.readMagic(); err != nil {
		return err
	}
	t, payload, err := c.readFrame()
	if err != nil {
		return c.refuse(err)
	}
	switch t {
	case TypeChallenge:
	case TypeHello:
		return c.refuse(fmt.Errorf("%w: the peer opened with a version 1 Hello; this node speaks [%d,%d] and admits peers only by proof", ErrNoCommonVersion, cfg.Local.MinVersion, cfg.Local.MaxVersion))
	default:
		return c.refuse(fmt.Errorf("%w: %s before Challenge", ErrUnexpectedType, t))
	}
	remoteChallenge, err := decodeChallenge(payload, false)
	if err != nil {
		return c.refuse(err)
	}
	if max(cfg.Local.MinVersion, remoteChallenge.minVersion) > min(cfg.Local.MaxVersion, remoteChallenge.maxVersion) {
		return c.refuse(fmt.Errorf("%w: peer speaks [%d,%d], we speak [%d,%d]", ErrNoCommonVersion,
			remoteChallenge.minVersion, remoteChallenge.maxVersion, cfg.Local.MinVersion, cfg.Local.MaxVersion))
	}
	nonceI, nonceR := remoteChallenge.nonce, cfg.Local.Nonce
	if nonceI == nonceR {
		return c.refuse(fmt.Errorf("%w: the peer sent our own nonce back", ErrMalformed))
	}
	// Our proof, and nothing that names us: a stranger learns only that
	// a Spook node listens here.
	local := challenge{minVersion: cfg.Local.MinVersion, maxVersion: cfg.Local.MaxVersion, nonce: nonceR,
		proof: proof(cfg.ClusterKey, Responder, nonceI, nonceR, cfg.Local.ClusterID)}
	if err := c.writeMagic(); err != nil {
		return err
	}
	if err := c.writeFrame(TypeChallenge, appendChallenge(nil, local)); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	t, payload, err = c.readFrame()
	if err != nil {
		return c.refuse(err)
	}
	switch t {
	case TypeHelloReply:
		return c.readRefusal(payload, false) // the initiator did not accept our proof
	case TypeProof:
	default:
		return c.refuse(fmt.Errorf("%w: %s before Proof", ErrUnexpectedType, t))
	}
	got, err := decodeProof(payload)
	if err != nil {
		return c.refuse(err)
	}
	if !hmac.Equal(got, proof(cfg.ClusterKey, Initiator, nonceI, nonceR, cfg.Local.ClusterID)) {
		// The text names neither us nor our cluster.
		return c.refuse(fmt.Errorf("%w: the peer did not prove the cluster key: it holds another key (or none where we have one), or is in another cluster", ErrAdmission))
	}
	t, payload, err = c.readFrame()
	if err != nil {
		return c.refuse(err)
	}
	if t != TypeHello {
		return c.refuse(fmt.Errorf("%w: %s before Hello", ErrUnexpectedType, t))
	}
	remote, err := DecodeHello(payload)
	if err != nil {
		return c.refuse(err)
	}
	if remote.Nonce != nonceI {
		return c.refuse(fmt.Errorf("%w: the initiator's Hello carries another nonce than its Challenge", ErrMalformed))
	}
	version, err := check(cfg, remote)
	if err != nil {
		return c.refuse(err)
	}
	if err := c.writeFrame(TypeHello, AppendHello(nil, cfg.Local)); err != nil {
		return err
	}
	if err := c.writeFrame(TypeHelloReply, appendReply(nil, ReasonNone, version, "")); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	t, payload, err = c.readFrame()
	if err != nil {
		return err // the initiator has our Hello; a refusal now helps no one
	}
	if t != TypeHelloReply {
		return fmt.Errorf("%w: %s instead of HelloReply", ErrUnexpectedType, t)
	}
	if err := c.readRefusal(payload, true); err != nil {
		return err
	}
	if _, chosen, _, _ := decodeReply(payload); chosen != version {
		return fmt.Errorf("%w: initiator accepted version %d, we chose %d", ErrMalformed, chosen, version)
	}
	c.remote, c.version = remote, version
	return nil
}

// check applies the built-in rules and the Accept policy to a peer's
// Hello, and returns the version to speak.
func check(cfg *Config, remote Hello) (Version, error) {
	local := cfg.Local
	if remote.ClusterID != local.ClusterID {
		return 0, fmt.Errorf("%w: peer %q is in cluster %q, we are in %q", ErrClusterMismatch, remote.NodeName, remote.ClusterID, local.ClusterID)
	}
	low, high := max(local.MinVersion, remote.MinVersion), min(local.MaxVersion, remote.MaxVersion)
	if low > high {
		return 0, fmt.Errorf("%w: peer speaks [%d,%d], we speak [%d,%d]", ErrNoCommonVersion, remote.MinVersion, remote.MaxVersion, local.MinVersion, local.MaxVersion)
	}
	if remote.Node == local.Node {
		return 0, fmt.Errorf("%w: %s (%q)", ErrSameNode, remote.Node, remote.NodeName)
	}
	if cfg.Accept != nil {
		if err := cfg.Accept(remote); err != nil {
			if ReasonOf(err) != ReasonNone {
				return 0, err // the policy chose its reason (ErrRemoved, ErrAdmission, ...)
			}
			return 0, fmt.Errorf("%w: %w", ErrPolicy, err)
		}
	}
	return high, nil
}

// readRefusal interprets a HelloReply payload: nil for an accept (allowed
// only if acceptOK), a counted *RefusalError for a refusal.
func (c *Conn) readRefusal(payload []byte, acceptOK bool) error {
	reason, _, text, err := decodeReply(payload)
	if err != nil {
		return c.refuse(err)
	}
	if reason == ReasonNone {
		if acceptOK {
			return nil
		}
		return c.refuse(fmt.Errorf("%w: HelloReply accept before Hello", ErrUnexpectedType))
	}
	c.counters.refuseRemote(reason)
	return &RefusalError{Reason: reason, Text: text}
}

func (c *Conn) writeMagic() error {
	if _, err := c.w.WriteString(Magic); err != nil {
		c.writeErr = err
		return err
	}
	c.sentMagic = true
	return nil
}

func (c *Conn) readMagic() error {
	var got [len(Magic)]byte
	if _, err := io.ReadFull(c.r, got[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: stream ended after %q", ErrBadMagic, got[:])
			c.counters.refuseLocal(ReasonBadMagic)
		}
		return err
	}
	if string(got[:]) != Magic {
		c.counters.refuseLocal(ReasonBadMagic)
		return fmt.Errorf("%w: got %q", ErrBadMagic, got[:])
	}
	return nil
}

// refuse sends a HelloReply refusal for err (best effort: the stream may
// be the thing that failed), counts it and returns err.
func (c *Conn) refuse(err error) error {
	reason := ReasonOf(err)
	if reason == ReasonNone {
		return err // an I/O error: nothing to tell the peer
	}
	c.counters.refuseLocal(reason)
	if c.writeErr == nil {
		if !c.sentMagic {
			c.w.WriteString(Magic) // a bufio error is sticky and seen below
			c.sentMagic = true
		}
		if c.writeFrame(TypeHelloReply, appendReply(nil, reason, 0, err.Error())) == nil {
			_ = c.Flush()
		}
	}
	return err
}

// Refuse writes a complete refusal to a Spook initiator without a
// handshake: Magic then a HelloReply with reason and text. Transport's
// Mux uses it to tell a plaintext peer that the port requires TLS. It
// does not read from the stream.
func Refuse(w io.Writer, reason Reason, text string) error {
	payload := appendReply(nil, reason, 0, text)
	var header [headerBytes]byte
	binary.BigEndian.PutUint32(header[:lengthBytes], uint32(len(payload)+typeBytes))
	header[lengthBytes] = byte(TypeHelloReply)
	frame := make([]byte, 0, len(Magic)+headerBytes+len(payload)+checksumBytes)
	frame = append(frame, Magic...)
	frame = append(frame, header[:]...)
	frame = append(frame, payload...)
	frame = binary.BigEndian.AppendUint32(frame, frameChecksum(handshakeSeed, 0, header[:], payload, new(checksumScratch)))
	_, err := w.Write(frame)
	return err
}
