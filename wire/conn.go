package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/spooksystems/spook/limits"
)

// Magic opens both directions of every link. It is also what transport's
// single-port sniffer matches to route a connection to the peer listener.
const Magic = "SPOOK\x00\x01"

// Type is a frame type. Wire format: the values are append-only and never
// reused.
type Type uint8

// Frame types. Wire format: append-only; see the table in doc.go.
const (
	TypeHello      Type = 1
	TypeHelloReply Type = 2
	TypeMessage    Type = 3
	TypeClose      Type = 4
	TypeChallenge  Type = 5 // version 2: a session nonce, and the responder's admission proof
	TypeProof      Type = 6 // version 2: the initiator's admission proof

	// typeLimit is one past the highest defined type.
	typeLimit = 7
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "Hello"
	case TypeHelloReply:
		return "HelloReply"
	case TypeMessage:
		return "Message"
	case TypeClose:
		return "Close"
	case TypeChallenge:
		return "Challenge"
	case TypeProof:
		return "Proof"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Limits.
const (
	// DefaultMaxFrameBytes is the default limit on a frame's length field
	// (type + payload) after the handshake: the table's
	// limits.MaxFrameBytes (16 MiB), which holds the largest log record
	// plus a message header, so any transaction a node accepts can be
	// shipped. A frame above the receiver's limit is refused with
	// ErrFrameTooLarge and closes the link.
	DefaultMaxFrameBytes = limits.MaxFrameBytes
	// MaxHandshakeFrameBytes is the limit on a frame's length during the
	// handshake, before the peer is known: an unauthenticated peer cannot
	// make us allocate more than this.
	MaxHandshakeFrameBytes = 4 << 10
	// MaxFrameBytesLimit is the largest frame limit a node may set or a
	// Hello may announce: 1 GiB, far above any sane batch, well inside an
	// int on every platform.
	MaxFrameBytesLimit = 1 << 30

	// lengthBytes + typeBytes form the header; checksumBytes the trailer.
	lengthBytes   = 4
	typeBytes     = 1
	checksumBytes = 4
	headerBytes   = lengthBytes + typeBytes
	// sequenceBytes is the implicit sequence number's size in the checksum.
	sequenceBytes = 8

	// DefaultBufferBytes is the size of a Conn's read and write buffers:
	// big enough that a batch of small frames is one syscall.
	DefaultBufferBytes = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// handshakeSeed seeds the checksum of handshake frames, before any nonce is
// known. It is the CRC-32C of a fixed label so it differs from a zero seed.
var handshakeSeed = crc32.Checksum([]byte("spook handshake"), castagnoli)

// sessionSeed is the checksum seed for frames from the holder of nonce from
// to the holder of nonce to. Ordering the nonces per direction is what
// makes a frame reflected back to its sender fail.
func sessionSeed(from, to [NonceBytes]byte) uint32 {
	var b [2*NonceBytes + len("spook session")]byte
	copy(b[:], from[:])
	copy(b[NonceBytes:], to[:])
	copy(b[2*NonceBytes:], "spook session")
	return crc32.Checksum(b[:], castagnoli)
}

// checksumScratch holds the implicit part of a frame's checksummed bytes.
// It lives in the Conn (one per direction) because a stack array passed
// to crc32 escapes and would cost an allocation per frame.
type checksumScratch [sequenceBytes + headerBytes]byte

// frameChecksum is the checksum of one frame given its direction's seed,
// its sequence number and its header (length and type) and payload.
func frameChecksum(seed uint32, sequence uint64, header []byte, payload []byte, prefix *checksumScratch) uint32 {
	binary.BigEndian.PutUint64(prefix[:sequenceBytes], sequence)
	copy(prefix[sequenceBytes:], header)
	crc := crc32.Update(seed, castagnoli, prefix[:])
	return crc32.Update(crc, castagnoli, payload)
}

// Conn reads and writes frames on an established link. It is returned by
// Handshake. Concurrency: at most one goroutine in ReadFrame and at most
// one goroutine in WriteFrame/Flush/WriteClose at a time; the reader and
// the writer may run concurrently with each other.
type Conn struct {
	r *bufio.Reader
	w *bufio.Writer

	// Per-direction checksum state. Sequences count frames since the
	// current phase (handshake, then session) began.
	readSeed, writeSeed         uint32
	readSequence, writeSequence uint64

	// Limits on a frame's length field: what we accept (ours) and what we
	// may send (the peer's, from its Hello). Both are
	// MaxHandshakeFrameBytes during the handshake.
	maxFrameBytes      int
	maxWriteFrameBytes int

	readBuf     []byte // reused for every received frame's payload+checksum
	readErr     error  // sticky: once the sequence is lost the link is dead
	readHeader  [headerBytes]byte
	readScratch checksumScratch

	// Fields, not locals, so they do not escape to the heap per frame.
	writeHeader  [headerBytes]byte
	writeTrailer [checksumBytes]byte
	writeScratch checksumScratch
	writeErr     error // sticky
	sentMagic    bool  // Magic has been written (handshake only)

	counters *Counters

	remote  Hello
	version Version
	common  Capabilities
}

func newConn(rw io.ReadWriter, bufferBytes int, counters *Counters) *Conn {
	return &Conn{
		r:                  bufio.NewReaderSize(rw, bufferBytes),
		w:                  bufio.NewWriterSize(rw, bufferBytes),
		readSeed:           handshakeSeed,
		writeSeed:          handshakeSeed,
		maxFrameBytes:      MaxHandshakeFrameBytes,
		maxWriteFrameBytes: MaxHandshakeFrameBytes,
		counters:           counters,
	}
}

// Remote is the peer's Hello as received in the handshake.
func (c *Conn) Remote() Hello { return c.remote }

// Version is the protocol version both sides agreed on.
func (c *Conn) Version() Version { return c.version }

// MaxPayloadBytes is the largest Message payload the peer accepts: its
// Hello's MaxFrameBytes less the type byte. Batching callers size frames
// by it.
func (c *Conn) MaxPayloadBytes() int { return c.maxWriteFrameBytes - typeBytes }

// Capabilities is the intersection of both sides' capability bits.
func (c *Conn) Capabilities() Capabilities { return c.common }

// ReadFrame reads the next frame. A Message frame is returned with its
// payload; the payload aliases the Conn's buffer and is valid only until
// the next ReadFrame. A Close frame is returned as a *CloseError (matching
// ErrPeerClosed). Handshake frames after the handshake are
// ErrUnexpectedType, undefined types ErrUnknownType; a frame that fails
// its limit or checksum is ErrFrameTooLarge, ErrMalformed or ErrChecksum.
// After any error, every later call returns the same error and nothing
// more is delivered.
func (c *Conn) ReadFrame() (Type, []byte, error) {
	t, payload, err := c.readFrame()
	if err != nil {
		return 0, nil, err
	}
	switch t {
	case TypeMessage:
		return t, payload, nil
	case TypeClose:
		reason, text, err := decodeReason(payload)
		if err != nil {
			return 0, nil, c.failRead(err)
		}
		return 0, nil, c.failReadQuiet(&CloseError{Reason: reason, Text: text})
	case TypeHello, TypeHelloReply, TypeChallenge, TypeProof:
		return 0, nil, c.failRead(fmt.Errorf("%w: %s after handshake", ErrUnexpectedType, t))
	}
	// readFrame refuses undefined types already.
	panic("wire: unreachable frame type")
}

// readFrame reads and checks one frame of any defined type.
func (c *Conn) readFrame() (Type, []byte, error) {
	if c.readErr != nil {
		return 0, nil, c.readErr
	}
	header := c.readHeader[:]
	if _, err := io.ReadFull(c.r, header); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: stream ended inside a frame header", ErrMalformed)
			return 0, nil, c.failRead(err)
		}
		return 0, nil, c.failReadQuiet(err) // io.EOF or a transport error
	}
	length := binary.BigEndian.Uint32(header[:lengthBytes])
	if length == 0 {
		return 0, nil, c.failRead(fmt.Errorf("%w: zero frame length", ErrMalformed))
	}
	if uint64(length) > uint64(c.maxFrameBytes) {
		return 0, nil, c.failRead(fmt.Errorf("%w: length %d > limit %d", ErrFrameTooLarge, length, c.maxFrameBytes))
	}
	payloadBytes := int(length) - typeBytes
	need := payloadBytes + checksumBytes
	buf, err := c.readBody(need)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: stream ended inside a frame", ErrMalformed)
			return 0, nil, c.failRead(err)
		}
		return 0, nil, c.failReadQuiet(err)
	}
	payload := buf[:payloadBytes:payloadBytes]
	want := binary.BigEndian.Uint32(buf[payloadBytes:])
	if got := frameChecksum(c.readSeed, c.readSequence, header, payload, &c.readScratch); got != want {
		return 0, nil, c.failRead(fmt.Errorf("%w: frame %d", ErrChecksum, c.readSequence))
	}
	c.readSequence++
	t := Type(header[lengthBytes])
	if t == 0 || t >= typeLimit {
		return 0, nil, c.failRead(fmt.Errorf("%w: %d", ErrUnknownType, uint8(t)))
	}
	return t, payload, nil
}

// minReadGrowBytes is the first step when the read buffer must grow.
const minReadGrowBytes = 64 << 10

// readBody reads need bytes into the read buffer. When the buffer must
// grow, it grows with the bytes that actually arrive (doubling from
// minReadGrowBytes) rather than to the length field's claim at once, so a
// peer that sends a large length and stalls cannot make the node allocate
// the frame limit per connection.
func (c *Conn) readBody(need int) ([]byte, error) {
	if cap(c.readBuf) >= need {
		buf := c.readBuf[:need]
		_, err := io.ReadFull(c.r, buf)
		return buf, err
	}
	buf := c.readBuf[:0]
	for len(buf) < need {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(need, max(2*cap(buf), minReadGrowBytes)))
			copy(grown, buf)
			buf = grown
		}
		n, err := io.ReadFull(c.r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	c.readBuf = buf
	return buf, nil
}

// failRead records err as the sticky read error and counts it.
func (c *Conn) failRead(err error) error {
	c.counters.frameError(ReasonOf(err))
	return c.failReadQuiet(err)
}

func (c *Conn) failReadQuiet(err error) error {
	c.readErr = err
	return err
}

// WriteFrame buffers one frame of type t. payload is copied into the write
// buffer (or written through) before WriteFrame returns; the caller may
// reuse it. Nothing is guaranteed sent until Flush. Writing a handshake
// type after the handshake, or a payload above MaxPayloadBytes (the
// peer's limit), is refused with nothing written.
func (c *Conn) WriteFrame(t Type, payload []byte) error {
	if t != TypeMessage {
		return fmt.Errorf("%w: WriteFrame(%s); use WriteClose for Close", ErrUnexpectedType, t)
	}
	return c.writeFrame(t, payload)
}

func (c *Conn) writeFrame(t Type, payload []byte) error {
	if c.writeErr != nil {
		return c.writeErr
	}
	if len(payload) > c.maxWriteFrameBytes-typeBytes {
		// Not sticky: nothing was written, the sequence is intact.
		return fmt.Errorf("%w: payload %d bytes > the peer's limit %d", ErrFrameTooLarge, len(payload), c.maxWriteFrameBytes-typeBytes)
	}
	binary.BigEndian.PutUint32(c.writeHeader[:lengthBytes], uint32(len(payload)+typeBytes))
	c.writeHeader[lengthBytes] = byte(t)
	trailer := c.writeTrailer[:]
	binary.BigEndian.PutUint32(trailer, frameChecksum(c.writeSeed, c.writeSequence, c.writeHeader[:], payload, &c.writeScratch))
	c.writeSequence++
	if _, err := c.w.Write(c.writeHeader[:]); err != nil {
		c.writeErr = err
		return err
	}
	if _, err := c.w.Write(payload); err != nil {
		c.writeErr = err
		return err
	}
	if _, err := c.w.Write(trailer); err != nil {
		c.writeErr = err
		return err
	}
	return nil
}

// Flush writes buffered frames to the stream.
func (c *Conn) Flush() error {
	if c.writeErr != nil && c.writeErr != ErrClosed {
		return c.writeErr
	}
	if err := c.w.Flush(); err != nil {
		c.writeErr = err
		return err
	}
	return nil
}

// Buffered is the number of bytes written but not yet flushed.
func (c *Conn) Buffered() int { return c.w.Buffered() }

// WriteClose buffers and flushes a Close frame with reason and text (text
// is cut to MaxReasonTextBytes). Later WriteFrame calls return ErrClosed.
// It does not close the underlying stream; the transport does.
func (c *Conn) WriteClose(reason Reason, text string) error {
	if err := c.writeFrame(TypeClose, appendReason(nil, reason, text)); err != nil {
		return err
	}
	c.writeErr = ErrClosed
	return c.Flush()
}
