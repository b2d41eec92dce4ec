package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func testKey(seed byte) []byte {
	return bytes.Repeat([]byte{seed}, 32)
}

func TestHandshakeWithClusterKey(t *testing.T) {
	pa, pb := net.Pipe()
	defer pa.Close()
	defer pb.Close()
	a, b := Config{Local: hello("a"), ClusterKey: testKey(7)}, Config{Local: hello("b"), ClusterKey: testKey(7)}
	ra, rb := handshakePair(t, pa, pb, a, b)
	if ra.err != nil || rb.err != nil {
		t.Fatalf("handshake with equal keys: initiator %v, responder %v", ra.err, rb.err)
	}
	if ra.conn.Remote().NodeName != "b" || rb.conn.Remote().NodeName != "a" {
		t.Fatalf("remotes %q %q", ra.conn.Remote().NodeName, rb.conn.Remote().NodeName)
	}
}

// recorder keeps what one side of a stream wrote.
type recorder struct {
	io.ReadWriter
	wrote bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote.Write(p)
	return r.ReadWriter.Write(p)
}

// TestStrangerLearnsNothing plays an initiator without the key against a
// keyed responder: the handshake must fail on both sides, and nothing the
// responder wrote may name its node, address or cluster.
func TestStrangerLearnsNothing(t *testing.T) {
	for _, strangerKey := range [][]byte{nil, testKey(9)} {
		pa, pb := net.Pipe()
		responder := &recorder{ReadWriter: pb}
		b := Config{Local: hello("secret-node"), ClusterKey: testKey(7)}
		b.Local.ClusterID = "secret-cluster"
		stranger := Config{Local: hello("evil")}
		stranger.Local.ClusterID = "secret-cluster" // even a guessed cluster id does not help
		stranger.ClusterKey = strangerKey
		ra, rb := handshakePair(t, pa, responder, stranger, b)
		pa.Close()
		pb.Close()
		if ra.err == nil || rb.err == nil {
			t.Fatalf("key %x: a stranger was admitted: %v / %v", strangerKey, ra.err, rb.err)
		}
		if !errors.Is(ra.err, ErrAdmission) {
			t.Fatalf("stranger's error %v", ra.err)
		}
		for _, secret := range []string{"secret-node", "secret-cluster", "7400"} {
			if strings.Contains(responder.wrote.String(), secret) {
				t.Fatalf("the responder sent %q to a stranger: %q", secret, responder.wrote.Bytes())
			}
		}
	}
}

// TestStrangerWithoutKeyGetsNoHello sends a keyless initiator's opening
// by hand, answers the responder's challenge with a made-up proof and a
// Hello, and checks the responder refuses with ReasonAdmission and
// never sends its Hello.
func TestStrangerWithoutKeyGetsNoHello(t *testing.T) {
	pa, pb := net.Pipe()
	defer pa.Close()
	defer pb.Close()
	done := make(chan error, 1)
	go func() {
		_, err := Handshake(pb, Responder, Config{Local: hello("b"), ClusterKey: testKey(7)})
		done <- err
	}()
	c := newConn(pa, DefaultBufferBytes, nil)
	nonce := [NonceBytes]byte{1, 2, 3}
	c.writeMagic()
	c.writeFrame(TypeChallenge, appendChallenge(nil, challenge{minVersion: MinVersion, maxVersion: MaxVersion, nonce: nonce}))
	c.Flush()
	if err := c.readMagic(); err != nil {
		t.Fatal(err)
	}
	typ, payload, err := c.readFrame()
	if err != nil || typ != TypeChallenge {
		t.Fatalf("first frame %s, %v", typ, err)
	}
	if _, err := decodeChallenge(payload, true); err != nil {
		t.Fatal(err)
	}
	h := hello("evil")
	h.Nonce = nonce
	c.writeFrame(TypeProof, make([]byte, ProofBytes))
	c.writeFrame(TypeHello, AppendHello(nil, h))
	c.Flush()
	typ, payload, err = c.readFrame()
	if err != nil || typ != TypeHelloReply {
		t.Fatalf("after a false proof: %s, %v (a Hello here leaks the node)", typ, err)
	}
	reason, _, text, _ := decodeReply(payload)
	if reason != ReasonAdmission || strings.Contains(text, "test-cluster") {
		t.Fatalf("refusal %s %q", reason, text)
	}
	if err := <-done; !errors.Is(err, ErrAdmission) {
		t.Fatalf("responder: %v", err)
	}
}

// TestProofIsNotReplayable records a keyed initiator's side of one
// session and replays it to a fresh responder: the responder's new
// nonce makes the recorded proof fail.
func TestProofIsNotReplayable(t *testing.T) {
	pa, pb := net.Pipe()
	initiator := &recorder{ReadWriter: pa}
	a, b := Config{Local: hello("a"), ClusterKey: testKey(7)}, Config{Local: hello("b"), ClusterKey: testKey(7)}
	ra, rb := handshakePair(t, initiator, pb, a, b)
	pa.Close()
	pb.Close()
	if ra.err != nil || rb.err != nil {
		t.Fatalf("recorded session failed: %v / %v", ra.err, rb.err)
	}
	var out bytes.Buffer
	_, err := Handshake(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(initiator.wrote.Bytes()), &out}, Responder, Config{Local: hello("b"), ClusterKey: testKey(7)})
	if !errors.Is(err, ErrAdmission) {
		t.Fatalf("a replayed session got %v, want ErrAdmission", err)
	}
	if strings.Contains(out.String(), "b:7400") {
		t.Fatal("the responder sent its Hello to a replayed session")
	}
}

// TestVersionOneHelloRefused: a node speaking the version 1 handshake
// (Magic then Hello) gets a no_common_version refusal naming the
// versions, and no Hello.
func TestVersionOneHelloRefused(t *testing.T) {
	var in bytes.Buffer
	c := &Conn{w: bufio.NewWriter(&in), writeSeed: handshakeSeed, maxFrameBytes: MaxHandshakeFrameBytes, maxWriteFrameBytes: MaxHandshakeFrameBytes}
	old := hello("old")
	old.MinVersion, old.MaxVersion, old.Nonce = 1, 1, fuzzNonceA
	c.writeMagic()
	c.writeFrame(TypeHello, AppendHello(nil, old))
	c.Flush()
	var out bytes.Buffer
	_, err := Handshake(struct {
		io.Reader
		io.Writer
	}{&in, &out}, Responder, Config{Local: hello("b")})
	if !errors.Is(err, ErrNoCommonVersion) || strings.Contains(out.String(), "b:7400") {
		t.Fatalf("err %v, wrote %q", err, out.Bytes())
	}
}

func TestClusterKeyLength(t *testing.T) {
	for _, n := range []int{1, MinClusterKeyBytes - 1, MaxClusterKeyBytes + 1} {
		_, err := Handshake(&bytes.Buffer{}, Initiator, Config{Local: hello("a"), ClusterKey: make([]byte, n)})
		if !errors.Is(err, ErrConfig) {
			t.Fatalf("key of %d bytes: %v", n, err)
		}
	}
}

func TestRemovedTextRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 6, 22, 10, 0, 123e6, time.UTC)
	text := RemovedText("n3", "prod", at)
	got, ok := ParseRemovedTime(text)
	if !ok || !got.Equal(at) || !strings.Contains(text, `"prod"`) {
		t.Fatalf("%q -> %v %v", text, got, ok)
	}
	if _, ok := ParseRemovedTime("no time here"); ok {
		t.Fatal("parsed a time from nothing")
	}
}
