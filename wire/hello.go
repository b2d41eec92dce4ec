package wire

import (
	"fmt"
	"unicode/utf8"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// Version is a link protocol version. Versions are small integers; each
// build supports a contiguous range and the handshake picks the highest
// version both ends support.
type Version uint16

// The versions this build speaks.
const (
	MinVersion Version = 2
	MaxVersion Version = 2
)

// Capabilities is a bitmask of optional features a node offers. Wire
// format: bits are append-only and never reused. Versions 1 and 2 define
// CapPublish; Conn.Capabilities reports the bits both ends set.
type Capabilities uint64

// CapPublish says the node takes client messages (Redis PUBLISH) from its
// peers: replica.MsgPublish. A node sends them only on a link whose both
// ends set it, so an older node never receives a message type it does not
// know.
const CapPublish Capabilities = 1 << 0

// Limits on Hello fields. A Hello is at most MaxHandshakeFrameBytes long.
const (
	MaxClusterIDBytes  = 64
	MaxNodeNameBytes   = 255
	MaxAddrBytes       = 255
	MaxReasonTextBytes = 255
	// NonceBytes is the size of a session nonce: 128 random bits make a
	// collision between two sessions negligible.
	NonceBytes = 16
)

// Hello introduces one end of a link. Encoded as (wire format, fields in
// order; later versions may only append fields):
//
//	uvarint  min version
//	uvarint  max version
//	bytes    cluster id   (uvarint length + bytes, 1..MaxClusterIDBytes)
//	uvarint  node id      (non-zero)
//	bytes    node name    (0..MaxNodeNameBytes, UTF-8)
//	bytes    address      (0..MaxAddrBytes, UTF-8)
//	uvarint  capabilities
//	16 bytes session nonce
//	uvarint  max frame bytes (MaxHandshakeFrameBytes..MaxFrameBytesLimit)
//	...      bytes this version does not know: ignored
type Hello struct {
	MinVersion   Version
	MaxVersion   Version
	ClusterID    string        // equal on every member of a cluster
	Node         causal.NodeID // non-zero
	NodeName     string        // human name; Node is usually NodeIDFromName(NodeName)
	Addr         string        // where the sender accepts links, "" if it does not
	Capabilities Capabilities
	// Nonce is fresh per session (Handshake fills a zero Nonce from
	// crypto/rand). Both nonces seed the session's frame checksums.
	Nonce [NonceBytes]byte
	// MaxFrameBytes is the largest frame length the sender accepts after
	// the handshake; the receiver never sends more. Handshake sets it
	// from Config.MaxFrameBytes.
	MaxFrameBytes uint32
}

// AppendHello appends h's encoding to dst. It does not validate h; see
// Hello.validate.
func AppendHello(dst []byte, h Hello) []byte {
	dst = codec.AppendUvarint(dst, uint64(h.MinVersion))
	dst = codec.AppendUvarint(dst, uint64(h.MaxVersion))
	dst = codec.AppendString(dst, h.ClusterID)
	dst = codec.AppendUvarint(dst, uint64(h.Node))
	dst = codec.AppendString(dst, h.NodeName)
	dst = codec.AppendString(dst, h.Addr)
	dst = codec.AppendUvarint(dst, uint64(h.Capabilities))
	dst = append(dst, h.Nonce[:]...)
	return codec.AppendUvarint(dst, uint64(h.MaxFrameBytes))
}

// DecodeHello decodes a Hello payload. Errors match ErrMalformed. The
// result does not alias b.
func DecodeHello(b []byte) (Hello, error) {
	r := codec.NewReader(b)
	var h Hello
	h.MinVersion = readVersion(r, "min version")
	h.MaxVersion = readVersion(r, "max version")
	h.ClusterID = string(r.Bytes("cluster id", MaxClusterIDBytes))
	h.Node = causal.NodeID(r.Uvarint("node id"))
	h.NodeName = string(r.Bytes("node name", MaxNodeNameBytes))
	h.Addr = string(r.Bytes("address", MaxAddrBytes))
	h.Capabilities = Capabilities(r.Uvarint("capabilities"))
	copy(h.Nonce[:], r.Raw("nonce", NonceBytes))
	maxFrame := r.Uvarint("max frame bytes")
	if maxFrame > MaxFrameBytesLimit {
		r.Fail("max frame bytes", codec.ErrInvalid)
	}
	h.MaxFrameBytes = uint32(maxFrame)
	// Bytes after the nonce are fields of a later version: ignored.
	if err := r.Err(); err != nil {
		return Hello{}, fmt.Errorf("%w: hello: %w", ErrMalformed, err)
	}
	if err := h.validate(); err != nil {
		return Hello{}, err
	}
	return h, nil
}

func readVersion(r *codec.Reader, what string) Version {
	v := r.Uvarint(what)
	if v > 0xffff {
		r.Fail(what, codec.ErrInvalid)
	}
	return Version(v)
}

// validate checks the rules a decoded Hello must meet. Errors match
// ErrMalformed.
func (h Hello) validate() error {
	switch {
	case h.MinVersion == 0 || h.MinVersion > h.MaxVersion:
		return fmt.Errorf("%w: hello: version range [%d,%d]", ErrMalformed, h.MinVersion, h.MaxVersion)
	case h.ClusterID == "" || len(h.ClusterID) > MaxClusterIDBytes:
		return fmt.Errorf("%w: hello: cluster id of %d bytes", ErrMalformed, len(h.ClusterID))
	case h.Node == 0:
		return fmt.Errorf("%w: hello: zero node id", ErrMalformed)
	case len(h.NodeName) > MaxNodeNameBytes || !utf8.ValidString(h.NodeName):
		return fmt.Errorf("%w: hello: node name not UTF-8 or too long", ErrMalformed)
	case len(h.Addr) > MaxAddrBytes || !utf8.ValidString(h.Addr):
		return fmt.Errorf("%w: hello: address not UTF-8 or too long", ErrMalformed)
	case h.MaxFrameBytes < MaxHandshakeFrameBytes || h.MaxFrameBytes > MaxFrameBytesLimit:
		return fmt.Errorf("%w: hello: max frame bytes %d outside [%d, %d]", ErrMalformed, h.MaxFrameBytes, MaxHandshakeFrameBytes, MaxFrameBytesLimit)
	}
	return nil
}

// HelloReply payload (wire format):
//
//	byte     reason   (ReasonNone = accept)
//	uvarint  version  (the chosen version if accepted, else 0)
//	bytes    text     (0..MaxReasonTextBytes; why, if refused)
//
// Close payload (wire format):
//
//	byte     reason
//	bytes    text     (0..MaxReasonTextBytes)

func appendReply(dst []byte, reason Reason, version Version, text string) []byte {
	dst = append(dst, byte(reason))
	dst = codec.AppendUvarint(dst, uint64(version))
	return codec.AppendString(dst, truncateText(text))
}

func decodeReply(b []byte) (reason Reason, version Version, text string, err error) {
	r := codec.NewReader(b)
	reason = Reason(r.Byte("reason"))
	version = readVersion(r, "version")
	text = string(r.Bytes("text", MaxReasonTextBytes))
	if err := r.Finish(); err != nil {
		return 0, 0, "", fmt.Errorf("%w: hello reply: %w", ErrMalformed, err)
	}
	if reason == ReasonNone && version == 0 {
		return 0, 0, "", fmt.Errorf("%w: hello reply: accept without a version", ErrMalformed)
	}
	return reason, version, text, nil
}

func appendReason(dst []byte, reason Reason, text string) []byte {
	dst = append(dst, byte(reason))
	return codec.AppendString(dst, truncateText(text))
}

func decodeReason(b []byte) (Reason, string, error) {
	r := codec.NewReader(b)
	reason := Reason(r.Byte("reason"))
	text := string(r.Bytes("text", MaxReasonTextBytes))
	if err := r.Finish(); err != nil {
		return 0, "", fmt.Errorf("%w: close: %w", ErrMalformed, err)
	}
	return reason, text, nil
}

// truncateText cuts s to MaxReasonTextBytes without splitting a UTF-8
// sequence.
func truncateText(s string) string {
	if len(s) <= MaxReasonTextBytes {
		return s
	}
	s = s[:MaxReasonTextBytes]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
