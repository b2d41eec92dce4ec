package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spooksystems/spook/causal"
)

func hello(name string) Hello {
	return Hello{
		ClusterID: "test-cluster",
		Node:      causal.NodeIDFromName(name),
		NodeName:  name,
		Addr:      name + ":7400",
		// Handshake sets it from Config; set here for encoding tests.
		MaxFrameBytes: DefaultMaxFrameBytes,
	}
}

type result struct {
	conn *Conn
	err  error
}

// handshakePair runs both ends of a handshake over rwA (initiator) and rwB
// (responder) concurrently and returns both results.
func handshakePair(t *testing.T, rwA, rwB io.ReadWriter, a, b Config) (result, result) {
	t.Helper()
	done := make(chan result, 1)
	go func() {
		c, err := Handshake(rwB, Responder, b)
		done <- result{c, err}
	}()
	c, err := Handshake(rwA, Initiator, a)
	ra := result{c, err}
	if err != nil {
		// The responder may be blocked writing to an initiator that gave
		// up; closing the streams releases it.
		closeIf(rwA)
	}
	rb := <-done
	return ra, rb
}

func closeIf(rw io.ReadWriter) {
	if c, ok := rw.(io.Closer); ok {
		c.Close()
	}
}

func TestHandshakeAndMessagesOverPipe(t *testing.T) {
	pa, pb := net.Pipe()
	defer pa.Close()
	defer pb.Close()
	a, b := Config{Local: hello("a")}, Config{Local: hello("b")}
	a.Local.Capabilities, b.Local.Capabilities = 0b0110, 0b0011
	ra, rb := handshakePair(t, pa, pb, a, b)
	if ra.err != nil || rb.err != nil {
		t.Fatalf("handshake: initiator %v, responder %v", ra.err, rb.err)
	}
	if got := ra.conn.Remote(); got.NodeName != "b" || got.Node != causal.NodeIDFromName("b") || got.Addr != "b:7400" {
		t.Fatalf("initiator sees remote %+v", got)
	}
	if got := rb.conn.Remote().NodeName; got != "a" {
		t.Fatalf("responder sees remote %q", got)
	}
	if ra.conn.Version() != MaxVersion || rb.conn.Version() != MaxVersion {
		t.Fatalf("versions %d %d", ra.conn.Version(), rb.conn.Version())
	}
	if ra.conn.Capabilities() != 0b0010 || rb.conn.Capabilities() != 0b0010 {
		t.Fatalf("capabilities %b %b", ra.conn.Capabilities(), rb.conn.Capabilities())
	}

	// Both directions at once: one writer and one reader per side.
	const frames = 100
	errc := make(chan error, 2)
	send := func(c *Conn, prefix string) {
		for i := range frames {
			if err := c.WriteFrame(TypeMessage, []byte(strings.Repeat(prefix, i+1))); err != nil {
				errc <- err
				return
			}
			if i%7 == 0 {
				if err := c.Flush(); err != nil {
					errc <- err
					return
				}
			}
		}
		errc <- c.WriteClose(ReasonShutdown, "bye")
	}
	go send(ra.conn, "a")
	go send(rb.conn, "b")
	recv := func(c *Conn, prefix string) {
		t.Helper()
		for i := range frames {
			typ, p, err := c.ReadFrame()
			if err != nil || typ != TypeMessage || string(p) != strings.Repeat(prefix, i+1) {
				t.Fatalf("frame %d: %v %q %v", i, typ, p, err)
			}
		}
		_, _, err := c.ReadFrame()
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Text != "bye" || !errors.Is(err, ErrPeerClosed) || !errors.Is(err, ErrShutdown) {
			t.Fatalf("after frames: %v", err)
		}
	}
	recv(rb.conn, "a")
	recv(ra.conn, "b")
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if err := ra.conn.WriteFrame(TypeMessage, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestVersionNegotiation(t *testing.T) {
	cases := []struct {
		aMin, aMax, bMin, bMax Version
		want                   Version // 0: no common version
	}{
		{1, 1, 1, 1, 1},
		{1, 3, 2, 5, 3},
		{2, 5, 1, 3, 3},
		{1, 2, 3, 4, 0},
		{4, 4, 1, 3, 0},
	}
	for _, tc := range cases {
		pa, pb := net.Pipe()
		a, b := Config{Local: hello("a")}, Config{Local: hello("b")}
		a.Local.MinVersion, a.Local.MaxVersion = tc.aMin, tc.aMax
		b.Local.MinVersion, b.Local.MaxVersion = tc.bMin, tc.bMax
		ra, rb := handshakePair(t, pa, pb, a, b)
		pa.Close()
		pb.Close()
		if tc.want == 0 {
			if !errors.Is(ra.err, ErrNoCommonVersion) || !errors.Is(ra.err, ErrPeerRefused) || !errors.Is(rb.err, ErrNoCommonVersion) {
				t.Fatalf("%+v: errors %v / %v", tc, ra.err, rb.err)
			}
			continue
		}
		if ra.err != nil || rb.err != nil {
			t.Fatalf("%+v: errors %v / %v", tc, ra.err, rb.err)
		}
		if ra.conn.Version() != tc.want || rb.conn.Version() != tc.want {
			t.Fatalf("%+v: versions %d / %d", tc, ra.conn.Version(), rb.conn.Version())
		}
	}
}

// TestHandshakeRefusals checks that each refusal reaches both sides with
// the right sentinel and is counted on both.
func TestHandshakeRefusals(t *testing.T) {
	policy := errors.New("not on the allow list")
	cases := []struct {
		name           string
		edit           func(a, b *Config)
		want           error
		reason         Reason
		refusedByLocal bool // the responder refuses (else the initiator does)
	}{
		// The proofs bind the cluster id: the initiator finds the
		// responder's wrong before either has said who it is.
		{"cluster", func(a, b *Config) { b.Local.ClusterID = "other" }, ErrAdmission, ReasonAdmission, false},
		{"key", func(a, b *Config) { a.ClusterKey, b.ClusterKey = testKey(1), testKey(2) }, ErrAdmission, ReasonAdmission, false},
		{"key on responder only", func(a, b *Config) { b.ClusterKey = testKey(1) }, ErrAdmission, ReasonAdmission, false},
		{"removed", func(a, b *Config) {
			b.Accept = func(Hello) error {
				return fmt.Errorf("%w: %s", ErrRemoved, RemovedText("a", "test-cluster", time.UnixMilli(1e12)))
			}
		}, ErrRemoved, ReasonRemoved, true},
		{"same node", func(a, b *Config) { b.Local.Node = a.Local.Node }, ErrSameNode, ReasonSameNode, true},
		{"responder policy", func(a, b *Config) { b.Accept = func(Hello) error { return policy } }, ErrPolicy, ReasonPolicy, true},
		{"initiator policy", func(a, b *Config) { a.Accept = func(Hello) error { return policy } }, ErrPolicy, ReasonPolicy, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ca, cb Counters
			a, b := Config{Local: hello("a"), Counters: &ca}, Config{Local: hello("b"), Counters: &cb}
			tc.edit(&a, &b)
			pa, pb := net.Pipe()
			defer pa.Close()
			defer pb.Close()
			ra, rb := handshakePair(t, pa, pb, a, b)
			if ra.conn != nil || rb.conn != nil {
				t.Fatal("a refused handshake returned a Conn")
			}
			refuser, refused := rb.err, ra.err
			cRefuser, cRefused := &cb, &ca
			if !tc.refusedByLocal {
				refuser, refused = ra.err, rb.err
				cRefuser, cRefused = &ca, &cb
			}
			if !errors.Is(refuser, tc.want) || errors.Is(refuser, ErrPeerRefused) {
				t.Fatalf("refusing side: %v", refuser)
			}
			var re *RefusalError
			if !errors.As(refused, &re) || re.Reason != tc.reason || !errors.Is(refused, tc.want) {
				t.Fatalf("refused side: %v", refused)
			}
			if tc.reason == ReasonPolicy && !strings.Contains(re.Text, policy.Error()) {
				t.Fatalf("refusal text %q lacks the policy's reason", re.Text)
			}
			if cRefuser.RefusedLocal(tc.reason) != 1 || cRefused.RefusedRemote(tc.reason) != 1 {
				t.Fatalf("counters: refuser local %d, refused remote %d", cRefuser.RefusedLocal(tc.reason), cRefused.RefusedRemote(tc.reason))
			}
		})
	}
}

func TestHandshakeBadMagic(t *testing.T) {
	var counters Counters
	in := bytes.NewReader([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	var out bytes.Buffer
	_, err := Handshake(struct {
		io.Reader
		io.Writer
	}{in, &out}, Responder, Config{Local: hello("b"), Counters: &counters})
	if !errors.Is(err, ErrBadMagic) || counters.RefusedLocal(ReasonBadMagic) != 1 {
		t.Fatalf("err %v, count %d", err, counters.RefusedLocal(ReasonBadMagic))
	}
	if out.Len() != 0 {
		t.Fatalf("responder wrote %q to a non-Spook peer", out.Bytes())
	}
}

func TestRefuseWithoutHandshake(t *testing.T) {
	pa, pb := net.Pipe()
	defer pa.Close()
	defer pb.Close()
	go func() {
		// What transport's Mux does with a plaintext peer on a TLS-only port.
		// Consume the initiator's Magic and Challenge, as the mux's sniffer
		// and TLS check would, then refuse.
		n := len(Magic) + headerBytes + len(appendChallenge(nil, challenge{minVersion: MinVersion, maxVersion: MaxVersion})) + checksumBytes
		io.ReadFull(pb, make([]byte, n))
		Refuse(pb, ReasonTLSRequired, "this port requires TLS")
		io.Copy(io.Discard, pb)
	}()
	_, err := Handshake(pa, Initiator, Config{Local: hello("a")})
	if !errors.Is(err, ErrTLSRequired) || !errors.Is(err, ErrPeerRefused) || !strings.Contains(err.Error(), "requires TLS") {
		t.Fatalf("err %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{Local: Hello{Node: 1}},        // no cluster id
		{Local: Hello{ClusterID: "c"}}, // no node id
		{Local: Hello{ClusterID: "c", Node: 1, MinVersion: 3, MaxVersion: 2}}, // empty range
		{Local: Hello{ClusterID: strings.Repeat("c", MaxClusterIDBytes+1), Node: 1}},
		{Local: hello("a"), MaxFrameBytes: 100},
	}
	for i, cfg := range bad {
		if _, err := Handshake(&bytes.Buffer{}, Initiator, cfg); !errors.Is(err, ErrConfig) {
			t.Fatalf("config %d: %v", i, err)
		}
	}
}

func TestHelloRoundTripAndExtension(t *testing.T) {
	h := hello("node-1")
	h.MinVersion, h.MaxVersion, h.Capabilities = 1, 7, 1<<40
	h.Nonce = [NonceBytes]byte{1, 2, 3}
	enc := AppendHello(nil, h)
	got, err := DecodeHello(enc)
	if err != nil || got != h {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// A later version's appended fields are ignored.
	if got, err := DecodeHello(append(enc, 0xAA, 0xBB)); err != nil || got != h {
		t.Fatalf("with extension: %+v, %v", got, err)
	}
	for n := range len(enc) {
		if _, err := DecodeHello(enc[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated at %d: %v", n, err)
		}
	}
}

// session is an established link whose initiator's writes can be diverted
// into a buffer, so a test can replay, drop, reorder or corrupt them
// before injecting them into the responder's stream.
type session struct {
	a, b *Conn
	tap  *tap
	raw  net.Conn // the initiator's end of the pipe, for injection
}

type tap struct {
	net.Conn
	record *bytes.Buffer
}

func (t *tap) Write(p []byte) (int, error) {
	if t.record != nil {
		return t.record.Write(p)
	}
	return t.Conn.Write(p)
}

func newSession(t *testing.T, ca, cb *Counters) *session {
	t.Helper()
	pa, pb := net.Pipe()
	t.Cleanup(func() { pa.Close(); pb.Close() })
	tp := &tap{Conn: pa}
	ra, rb := handshakePair(t, tp, pb, Config{Local: hello("a"), Counters: ca}, Config{Local: hello("b"), Counters: cb})
	if ra.err != nil || rb.err != nil {
		t.Fatalf("handshake: %v / %v", ra.err, rb.err)
	}
	tp.record = &bytes.Buffer{}
	return &session{a: ra.conn, b: rb.conn, tap: tp, raw: pa}
}

// frames writes payloads as Message frames on the initiator and returns
// each frame's bytes as recorded.
func (s *session) frames(t *testing.T, payloads ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range payloads {
		if err := s.a.WriteFrame(TypeMessage, []byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := s.a.Flush(); err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(s.tap.record.Bytes()))
		s.tap.record.Reset()
	}
	return out
}

// inject writes chunks to the responder's stream without waiting for
// them to be read (the test closes the pipe at the end).
func (s *session) inject(chunks ...[]byte) {
	go func() {
		for _, c := range chunks {
			if _, err := s.raw.Write(c); err != nil {
				return
			}
		}
	}()
}

// expect reads one frame per want entry ("" expects an error matching
// wantErr and is always the last), and checks the error is sticky.
func (s *session) expect(t *testing.T, wantErr error, want ...string) {
	t.Helper()
	for _, w := range want {
		typ, p, err := s.b.ReadFrame()
		if err != nil || typ != TypeMessage || string(p) != w {
			t.Fatalf("want %q, got %v %q %v", w, typ, p, err)
		}
	}
	for range 2 {
		typ, p, err := s.b.ReadFrame()
		if !errors.Is(err, wantErr) || typ != 0 || p != nil {
			t.Fatalf("want %v with nothing delivered, got %v %q %v", wantErr, typ, p, err)
		}
	}
}

func TestFrameRefusals(t *testing.T) {
	flip := func(f []byte, i int) []byte {
		f = bytes.Clone(f)
		f[i] ^= 0x10
		return f
	}
	header := func(length uint32) []byte {
		return append(binary.BigEndian.AppendUint32(nil, length), byte(TypeMessage))
	}
	cases := []struct {
		name      string
		send      func(f [][]byte) [][]byte
		delivered []string
		err       error
		reason    Reason
	}{
		{"tampered payload", func(f [][]byte) [][]byte { return [][]byte{f[0], flip(f[1], 6)} }, []string{"zero"}, ErrChecksum, ReasonChecksum},
		{"tampered checksum", func(f [][]byte) [][]byte { return [][]byte{flip(f[0], len(f[0])-1)} }, nil, ErrChecksum, ReasonChecksum},
		{"tampered type", func(f [][]byte) [][]byte { return [][]byte{flip(f[0], 4)} }, nil, ErrChecksum, ReasonChecksum},
		{"replayed", func(f [][]byte) [][]byte { return [][]byte{f[0], f[1], f[1]} }, []string{"zero", "one"}, ErrChecksum, ReasonChecksum},
		{"reordered", func(f [][]byte) [][]byte { return [][]byte{f[1], f[0]} }, nil, ErrChecksum, ReasonChecksum},
		{"dropped", func(f [][]byte) [][]byte { return [][]byte{f[0], f[2]} }, []string{"zero"}, ErrChecksum, ReasonChecksum},
		{"oversized", func(f [][]byte) [][]byte { return [][]byte{f[0], header(DefaultMaxFrameBytes + 1)} }, []string{"zero"}, ErrFrameTooLarge, ReasonTooLarge},
		{"huge", func(f [][]byte) [][]byte { return [][]byte{header(0xffffffff)} }, nil, ErrFrameTooLarge, ReasonTooLarge},
		{"zero length", func(f [][]byte) [][]byte { return [][]byte{header(0)} }, nil, ErrMalformed, ReasonMalformed},
		{"truncated", func(f [][]byte) [][]byte { return [][]byte{f[0][:len(f[0])-2], nil} }, nil, ErrMalformed, ReasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var counters Counters
			s := newSession(t, nil, &counters)
			f := s.frames(t, "zero", "one", "two")
			chunks := tc.send(f)
			if tc.name == "truncated" {
				// End the stream after the partial frame.
				go func() { s.raw.Write(chunks[0]); s.raw.Close() }()
			} else {
				s.inject(chunks...)
			}
			s.expect(t, tc.err, tc.delivered...)
			if counters.FrameErrors(tc.reason) != 1 {
				t.Fatalf("FrameErrors(%s) = %d", tc.reason, counters.FrameErrors(tc.reason))
			}
		})
	}
}

func TestFrameFromAnotherSession(t *testing.T) {
	s1 := newSession(t, nil, nil)
	s2 := newSession(t, nil, nil)
	f := s1.frames(t, "from session one")
	s2.inject(f[0])
	s2.expect(t, ErrChecksum)
}

func TestReflectedFrame(t *testing.T) {
	// Frames the responder sends, fed back to the responder.
	s := newSession(t, nil, nil)
	var buf bytes.Buffer
	w := &Conn{w: bufio.NewWriter(&buf), writeSeed: s.b.writeSeed, maxWriteFrameBytes: DefaultMaxFrameBytes}
	if err := w.WriteFrame(TypeMessage, []byte("echo")); err != nil || w.Flush() != nil {
		t.Fatal(err)
	}
	s.inject(buf.Bytes())
	s.expect(t, ErrChecksum)
}

func TestUnknownAndUnexpectedTypes(t *testing.T) {
	for _, tc := range []struct {
		typ  Type
		want error
	}{{9, ErrUnknownType}, {0, ErrUnknownType}, {TypeHello, ErrUnexpectedType}, {TypeHelloReply, ErrUnexpectedType}} {
		s := newSession(t, nil, nil)
		// writeFrame is the unchecked path: it frames any type correctly.
		if err := s.a.writeFrame(tc.typ, []byte("x")); err != nil || s.a.Flush() != nil {
			t.Fatal(err)
		}
		s.inject(s.tap.record.Bytes())
		s.expect(t, tc.want)
	}
}

func TestWriteLimits(t *testing.T) {
	s := newSession(t, nil, nil)
	if err := s.a.WriteFrame(TypeMessage, make([]byte, DefaultMaxFrameBytes)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized write: %v", err)
	}
	if s.a.Buffered() != 0 || s.tap.record.Len() != 0 {
		t.Fatal("an oversized frame was partly written")
	}
	if err := s.a.WriteFrame(TypeHello, nil); !errors.Is(err, ErrUnexpectedType) {
		t.Fatalf("Hello after handshake: %v", err)
	}
	// The refused writes left the sequence intact.
	f := s.frames(t, "fine")
	s.inject(f...)
	if _, p, err := s.b.ReadFrame(); err != nil || string(p) != "fine" {
		t.Fatalf("after refused writes: %q %v", p, err)
	}
	// The largest allowed frame goes through.
	big := make([]byte, DefaultMaxFrameBytes-1)
	big[len(big)-1] = 7
	f = s.frames(t, string(big))
	s.inject(f...)
	if _, p, err := s.b.ReadFrame(); err != nil || !bytes.Equal(p, big) {
		t.Fatalf("largest frame: %d bytes, %v", len(p), err)
	}
}

func TestReasonMapping(t *testing.T) {
	for _, r := range Reasons() {
		if r.Err() == nil || ReasonOf(r.Err()) != r {
			t.Fatalf("reason %s: err %v maps back to %s", r, r.Err(), ReasonOf(r.Err()))
		}
		if (&RefusalError{Reason: r}).Error() == "" || !errors.Is(&RefusalError{Reason: r}, r.Err()) {
			t.Fatalf("RefusalError for %s", r)
		}
	}
	var c Counters
	c.refuseRemote(200) // a newer peer's code
	if c.RefusedRemote(ReasonUnknown) != 1 || c.RefusedRemote(200) != 1 {
		t.Fatal("unknown reason not counted under ReasonUnknown")
	}
	if got := truncateText(strings.Repeat("é", 200)); len(got) > MaxReasonTextBytes || !strings.HasPrefix(strings.Repeat("é", 200), got) || len(got) < MaxReasonTextBytes-1 {
		t.Fatalf("truncateText: %d bytes", len(got))
	}
}

// TestLargeLengthDoesNotAllocateUpFront: a frame header claiming the
// limit, followed by little data, grows the read buffer only as far as
// the data that arrived.
func TestLargeLengthDoesNotAllocateUpFront(t *testing.T) {
	s := newSession(t, nil, nil)
	header := append(binary.BigEndian.AppendUint32(nil, DefaultMaxFrameBytes), byte(TypeMessage))
	go func() {
		s.raw.Write(header)
		s.raw.Write(make([]byte, 1000))
		s.raw.Close() // then EOF inside the frame
	}()
	if _, _, err := s.b.ReadFrame(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err %v", err)
	}
	if c := cap(s.b.readBuf); c > minReadGrowBytes {
		t.Fatalf("read buffer grew to %d bytes for 1000 bytes of data", c)
	}
}

// TestFrameLimitsPerDirection: each side announces what it accepts and
// the other never sends more.
func TestFrameLimitsPerDirection(t *testing.T) {
	pa, pb := net.Pipe()
	defer pa.Close()
	defer pb.Close()
	a, b := Config{Local: hello("a"), MaxFrameBytes: 8 << 10}, Config{Local: hello("b")}
	ra, rb := handshakePair(t, pa, pb, a, b)
	if ra.err != nil || rb.err != nil {
		t.Fatalf("handshake: %v / %v", ra.err, rb.err)
	}
	if ra.conn.MaxPayloadBytes() != DefaultMaxFrameBytes-1 || rb.conn.MaxPayloadBytes() != 8<<10-1 {
		t.Fatalf("MaxPayloadBytes: a %d, b %d", ra.conn.MaxPayloadBytes(), rb.conn.MaxPayloadBytes())
	}
	if err := rb.conn.WriteFrame(TypeMessage, make([]byte, 8<<10)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("b sending above a's limit: %v", err)
	}
	go func() {
		rb.conn.WriteFrame(TypeMessage, make([]byte, 8<<10-1))
		rb.conn.Flush()
	}()
	if _, p, err := ra.conn.ReadFrame(); err != nil || len(p) != 8<<10-1 {
		t.Fatalf("a reading its largest frame: %d, %v", len(p), err)
	}
	// A Hello announcing a limit out of range is malformed.
	h := hello("c")
	for _, limit := range []uint32{0, MaxHandshakeFrameBytes - 1, MaxFrameBytesLimit + 1} {
		h.MaxFrameBytes = limit
		if _, err := DecodeHello(AppendHello(nil, h)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("limit %d: %v", limit, err)
		}
	}
}
