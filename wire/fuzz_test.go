package wire

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora under testdata/fuzz")

// fuzzFrameLimit keeps fuzzed lengths from allocating much.
const fuzzFrameLimit = 1 << 16

var fuzzNonceA, fuzzNonceB = [NonceBytes]byte{1}, [NonceBytes]byte{2}

func fuzzWriter(w io.Writer) *Conn {
	return &Conn{w: bufio.NewWriter(w), writeSeed: sessionSeed(fuzzNonceA, fuzzNonceB), maxFrameBytes: fuzzFrameLimit, maxWriteFrameBytes: fuzzFrameLimit}
}

func fuzzReader(b []byte) *Conn {
	return &Conn{r: bufio.NewReaderSize(bytes.NewReader(b), 64), readSeed: sessionSeed(fuzzNonceA, fuzzNonceB), maxFrameBytes: fuzzFrameLimit}
}

// frameSeeds are streams of session frames: valid ones and typical damage.
func frameSeeds() [][]byte {
	var valid bytes.Buffer
	w := fuzzWriter(&valid)
	w.WriteFrame(TypeMessage, []byte("first"))
	w.WriteFrame(TypeMessage, nil)
	w.WriteFrame(TypeMessage, bytes.Repeat([]byte{0xAB}, 300))
	w.WriteClose(ReasonShutdown, "bye")
	v := valid.Bytes()
	flipped := bytes.Clone(v)
	flipped[7] ^= 1
	var one bytes.Buffer
	w = fuzzWriter(&one)
	w.WriteFrame(TypeMessage, []byte("x"))
	w.Flush()
	return [][]byte{
		v,
		flipped,
		append(bytes.Clone(one.Bytes()), one.Bytes()...), // replay
		v[:len(v)-3],                   // truncated
		{0, 0, 0, 0, 3},                // zero length
		{0xff, 0xff, 0xff, 0xff, 3, 0}, // oversized
		{0, 0, 0, 2, 9, 0, 1, 2, 3, 4}, // unknown type, bad checksum
	}
}

func FuzzReadFrame(f *testing.F) {
	for _, s := range frameSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := fuzzReader(data)
		var again bytes.Buffer
		w := fuzzWriter(&again)
		for range 64 {
			typ, p, err := c.ReadFrame()
			if err != nil {
				var ce *CloseError
				switch {
				case errors.As(err, &ce):
					if err := w.WriteClose(ce.Reason, ce.Text); err != nil {
						t.Fatal(err)
					}
				case err == io.EOF, errors.Is(err, ErrMalformed), errors.Is(err, ErrChecksum),
					errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrUnknownType), errors.Is(err, ErrUnexpectedType):
				default:
					t.Fatalf("unexpected error kind: %v", err)
				}
				if _, _, err2 := c.ReadFrame(); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				break
			}
			if typ != TypeMessage || len(p) > fuzzFrameLimit-1 {
				t.Fatalf("delivered %v with %d bytes", typ, len(p))
			}
			if err := w.WriteFrame(typ, p); err != nil {
				t.Fatal(err)
			}
		}
		w.Flush()
		// Whatever was accepted re-encodes to exactly the bytes read.
		if !bytes.HasPrefix(data, again.Bytes()) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", data, again.Bytes())
		}
	})
}

// handshakeSeeds are initiator streams: a valid Hello (with and without
// the final HelloReply), and damaged ones.
func handshakeSeeds() [][]byte {
	h := hello("fuzz-a")
	h.MinVersion, h.MaxVersion = MinVersion, MaxVersion
	h.Nonce = fuzzNonceA
	h.MaxFrameBytes = DefaultMaxFrameBytes
	var b bytes.Buffer
	c := &Conn{w: bufio.NewWriter(&b), writeSeed: handshakeSeed, maxFrameBytes: MaxHandshakeFrameBytes, maxWriteFrameBytes: MaxHandshakeFrameBytes}
	c.writeMagic()
	c.writeFrame(TypeChallenge, appendChallenge(nil, challenge{minVersion: MinVersion, maxVersion: MaxVersion, nonce: fuzzNonceA}))
	c.Flush()
	challengeOnly := bytes.Clone(b.Bytes())
	// The proof FuzzHandshake's responder (nonce fuzzNonceB, no key) expects.
	c.writeFrame(TypeProof, proof(nil, Initiator, fuzzNonceA, fuzzNonceB, h.ClusterID))
	c.writeFrame(TypeHello, AppendHello(nil, h))
	c.Flush()
	throughHello := bytes.Clone(b.Bytes())
	c.writeFrame(TypeHelloReply, appendReply(nil, ReasonNone, MaxVersion, ""))
	c.Flush()
	full := b.Bytes()
	var refusal bytes.Buffer
	Refuse(&refusal, ReasonClusterMismatch, "other cluster")
	return [][]byte{
		full,
		throughHello,
		challengeOnly,
		refusal.Bytes(),
		AppendHello(nil, h), // a bare Hello payload, for DecodeHello
		[]byte(Magic),
		[]byte("GET / HTTP/1.1\r\n"),
	}
}

func FuzzHandshake(f *testing.F) {
	for _, s := range handshakeSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The Hello decoder alone.
		if h, err := DecodeHello(data); err == nil {
			if h.validate() != nil {
				t.Fatalf("decoded an invalid Hello %+v", h)
			}
			again, err := DecodeHello(AppendHello(nil, h))
			if err != nil || again != h {
				t.Fatalf("round trip: %+v -> %+v, %v", h, again, err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("DecodeHello: %v", err)
		}
		// The whole responder side, with data as the initiator's stream.
		local := hello("fuzz-b")
		local.Nonce = fuzzNonceB
		conn, err := Handshake(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(data), io.Discard}, Responder, Config{Local: local})
		if err == nil && conn.Remote().validate() != nil {
			t.Fatalf("handshake accepted an invalid Hello %+v", conn.Remote())
		}
	})
}

// TestWriteSeedCorpora rewrites testdata/fuzz when run with
// -update-corpus, and otherwise checks the committed corpora are current.
func TestWriteSeedCorpora(t *testing.T) {
	for name, seeds := range map[string][][]byte{"FuzzReadFrame": frameSeeds(), "FuzzHandshake": handshakeSeeds()} {
		dir := filepath.Join("testdata", "fuzz", name)
		for i, s := range seeds {
			path := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if *updateCorpus {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != want {
				t.Fatalf("%s is stale or missing (run go test -run TestWriteSeedCorpora -update-corpus): %v", path, err)
			}
		}
	}
}
