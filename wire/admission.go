package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/spooksystems/spook/internal/codec"
)

// Admission limits.
const (
	// MinClusterKeyBytes is the shortest cluster key Handshake accepts:
	// 128 bits, beyond guessing. `spook up` and the docs make 32 bytes.
	MinClusterKeyBytes = 16
	// MaxClusterKeyBytes bounds a cluster key (an HMAC key longer than
	// SHA-256's block is hashed first anyway).
	MaxClusterKeyBytes = 64
	// ProofBytes is the size of an admission proof: one HMAC-SHA256.
	ProofBytes = sha256.Size
)

// proofLabel starts every admission proof's input, so a proof can never
// be mistaken for an HMAC the same key computes for another purpose.
const proofLabel = "spook admission proof v2"

// proof is the admission proof of the side playing role in the session
// opened by the two nonces:
//
//	HMAC-SHA256(key, label ‖ role ‖ initiator nonce ‖ responder nonce ‖
//	            uvarint length ‖ cluster id)
//
// Both nonces make it fresh for this session (a recorded proof does not
// verify in another), the role byte keeps one side's proof from being
// reflected back as the other's, and the cluster id keeps members of
// two clusters that share a key apart. An empty key still binds the
// cluster id (clusters that admit by TLS certificates alone).
func proof(key []byte, role Role, nonceI, nonceR [NonceBytes]byte, cluster string) []byte {
	m := hmac.New(sha256.New, key)
	b := make([]byte, 0, len(proofLabel)+1+2*NonceBytes+2+len(cluster))
	b = append(b, proofLabel...)
	b = append(b, byte(role))
	b = append(b, nonceI[:]...)
	b = append(b, nonceR[:]...)
	b = codec.AppendString(b, cluster)
	m.Write(b)
	return m.Sum(nil)
}

// challenge is a Challenge frame's content (wire format, fields in order;
// later versions may append fields):
//
//	uvarint  min version
//	uvarint  max version
//	16 bytes session nonce
//	32 bytes admission proof (the responder's only; absent from the
//	         initiator's)
//
// It carries nothing that identifies the sender: the versions and a
// random nonce are all a stranger learns.
type challenge struct {
	minVersion, maxVersion Version
	nonce                  [NonceBytes]byte
	proof                  []byte // nil, or ProofBytes long
}

func appendChallenge(dst []byte, ch challenge) []byte {
	dst = codec.AppendUvarint(dst, uint64(ch.minVersion))
	dst = codec.AppendUvarint(dst, uint64(ch.maxVersion))
	dst = append(dst, ch.nonce[:]...)
	return append(dst, ch.proof...)
}

// decodeChallenge decodes a Challenge payload; withProof says whether it
// must carry a proof (the responder's) or must not (the initiator's).
// Errors match ErrMalformed.
func decodeChallenge(b []byte, withProof bool) (challenge, error) {
	r := codec.NewReader(b)
	var ch challenge
	ch.minVersion = readVersion(r, "min version")
	ch.maxVersion = readVersion(r, "max version")
	copy(ch.nonce[:], r.Raw("nonce", NonceBytes))
	if withProof {
		ch.proof = append([]byte(nil), r.Raw("proof", ProofBytes)...)
	}
	if err := r.Err(); err != nil {
		return challenge{}, fmt.Errorf("%w: challenge: %w", ErrMalformed, err)
	}
	if ch.minVersion == 0 || ch.minVersion > ch.maxVersion {
		return challenge{}, fmt.Errorf("%w: challenge: version range [%d,%d]", ErrMalformed, ch.minVersion, ch.maxVersion)
	}
	if ch.nonce == ([NonceBytes]byte{}) {
		return challenge{}, fmt.Errorf("%w: challenge: zero nonce", ErrMalformed)
	}
	return ch, nil
}

// decodeProof decodes a Proof payload: exactly ProofBytes. Errors match
// ErrMalformed.
func decodeProof(b []byte) ([]byte, error) {
	if len(b) != ProofBytes {
		return nil, fmt.Errorf("%w: proof of %d bytes, want %d", ErrMalformed, len(b), ProofBytes)
	}
	return b, nil
}

// removedTimeLayout is how RemovedText writes the removal time: UTC with
// milliseconds, readable and parseable.
const removedTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// RemovedText is the text a member sends with ReasonRemoved: who was
// removed from which cluster and when. ParseRemovedTime reads the time
// back.
func RemovedText(node, cluster string, at time.Time) string {
	return fmt.Sprintf("node %q was removed from cluster %q at %s", node, cluster, at.UTC().Format(removedTimeLayout))
}

// ParseRemovedTime reads the removal time from a RemovedText, and false
// if the text holds none (a newer or older peer's wording).
func ParseRemovedTime(text string) (time.Time, bool) {
	i := strings.LastIndex(text, " at ")
	if i < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(removedTimeLayout, text[i+len(" at "):])
	return t, err == nil
}
