package replica

import "github.com/spooksystems/spook/causal"

// LinkCodec encodes and decodes the messages of one link session. It holds
// per-link state in each direction (dictionaries of keys and node ids, the
// previous transaction header and applied vector), so the driver creates
// one per link session, uses Encode for every message sent and Decode for
// every payload received in order, and drops it when the session ends. A
// LinkCodec is not safe for concurrent use, but its encoding and decoding
// halves are independent: one goroutine may Encode while another Decodes.
type LinkCodec struct {
}

// NewLinkCodec returns a codec for a new link session.
func NewLinkCodec() *LinkCodec { panic("TODO") }

// Encode appends the payload of m to dst. After an error the session must
// be closed.
func (c *LinkCodec) Encode(dst []byte, m *Message) ([]byte, error) { panic("TODO") }

// Decode decodes one payload. It copies what it keeps, so the caller may
// reuse payload. An error wraps ErrDecode and gives the reason; the
// session must then be closed.
func (c *LinkCodec) Decode(payload []byte) (Message, error) { panic("TODO") }

var _ = causal.NodeID(0)
