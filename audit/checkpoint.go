package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/causal"
)

// ErrCheckpoint: a checkpoint note is malformed, unsigned by the named
// member, or contradicts the history (its root is not the root of the
// leaves it covers).
var ErrCheckpoint = errors.New("audit: bad checkpoint")

// A Checkpoint is a tree head of the checkpoint log: after the leaves of
// checkpoints 1..Index, the tree has N leaves and root Root. Cut is the
// collapsed cut it covers: the leaves are exactly the transactions with a
// dot in Cut.
type Checkpoint struct {
	Cluster string
	Index   uint64
	N       int64
	Root    tlog.Hash
	Cut     causal.VersionVector
}

// Leaves returns the leaves a checkpoint appends: every transaction with
// a dot in cut and not in prev, ordered by origin id, then counter. The
// order depends on the two cuts only, so every member that computes it
// from the same cuts gets the same leaves in the same order. lookup gives
// a transaction's hash; a missing one is an error (this member cannot
// compute the checkpoint: it received those dots by reconciliation).
func Leaves(prev, cut *causal.VersionVector, lookup func(origin, counter uint64) (Hash, bool)) ([]Leaf, error) {
	var out []Leaf
	for _, e := range cut.Entries() { // sorted by node id
		for c := prev.Get(e.Node) + 1; c <= e.Counter; c++ {
			h, ok := lookup(uint64(e.Node), c)
			if !ok {
				return nil, fmt.Errorf("%w: no transaction %s:%d to append", ErrCheckpoint, e.Node, c)
			}
			out = append(out, Leaf{Origin: uint64(e.Node), Counter: c, Hash: h})
		}
	}
	return out, nil
}

// Text is the checkpoint's note text. Its first three lines are
// tlog.FormatTree's (tlog.ParseTree reads them and ignores the rest); the
// others name the cluster, the index and the cut:
//
//	go.sum database tree
//	N
//	base64(root)
//	spook checkpoint CLUSTER INDEX          (CLUSTER "-" if empty)
//	cut NODEHEX:COUNTER NODEHEX:COUNTER ...
func (c *Checkpoint) Text() string {
	var b strings.Builder
	b.Write(tlog.FormatTree(tlog.Tree{N: c.N, Hash: c.Root}))
	cluster := c.Cluster
	if cluster == "" {
		cluster = "-" // an unnamed cluster (tests): the line keeps four fields
	}
	fmt.Fprintf(&b, "spook checkpoint %s %d\ncut", cluster, c.Index)
	for _, e := range c.Cut.Entries() {
		fmt.Fprintf(&b, " %016x:%d", uint64(e.Node), e.Counter)
	}
	b.WriteString("\n")
	return b.String()
}

// ParseCheckpoint reads a checkpoint note's text.
func ParseCheckpoint(text string) (Checkpoint, error) {
	tree, err := tlog.ParseTree([]byte(text))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	lines := strings.Split(text, "\n")
	if len(lines) != 6 || lines[5] != "" {
		return Checkpoint{}, fmt.Errorf("%w: want 5 lines", ErrCheckpoint)
	}
	head := strings.Fields(lines[3])
	if len(head) != 4 || head[0] != "spook" || head[1] != "checkpoint" {
		return Checkpoint{}, fmt.Errorf("%w: line 4 %q", ErrCheckpoint, lines[3])
	}
	c := Checkpoint{Cluster: head[2], N: tree.N, Root: tree.Hash}
	if c.Cluster == "-" {
		c.Cluster = ""
	}
	if c.Index, err = strconv.ParseUint(head[3], 10, 64); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: index %q", ErrCheckpoint, head[3])
	}
	cut := strings.Fields(lines[4])
	if len(cut) == 0 || cut[0] != "cut" {
		return Checkpoint{}, fmt.Errorf("%w: line 5 %q", ErrCheckpoint, lines[4])
	}
	for _, f := range cut[1:] {
		node, counter, ok := strings.Cut(f, ":")
		n, err1 := strconv.ParseUint(node, 16, 64)
		k, err2 := strconv.ParseUint(counter, 10, 64)
		if !ok || err1 != nil || err2 != nil || n == 0 || k == 0 {
			return Checkpoint{}, fmt.Errorf("%w: cut entry %q", ErrCheckpoint, f)
		}
		c.Cut.Set(causal.NodeID(n), k)
	}
	if c.Text() != text {
		return Checkpoint{}, fmt.Errorf("%w: not in canonical form", ErrCheckpoint)
	}
	return c, nil
}

// noteSigner signs notes with an ed25519 key under a node's name, as
// golang.org/x/mod/sumdb/note's own signer does (its key hash is
// note's: the first 4 bytes of SHA-256(name | "\n" | 0x01 | public key)).
type noteSigner struct {
	name string
	key  ed25519.PrivateKey
}

func (s noteSigner) Name() string { return s.name }
func (s noteSigner) KeyHash() uint32 {
	h := sha256.New()
	h.Write([]byte(s.name + "\n"))
	h.Write(append([]byte{1}, s.key.Public().(ed25519.PublicKey)...))
	return binary.BigEndian.Uint32(h.Sum(nil))
}
func (s noteSigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.key, msg), nil }

// SignCheckpoint returns the signed note of c by the member named name
// holding key: c.Text() followed by note's signature line.
func SignCheckpoint(c *Checkpoint, name string, key ed25519.PrivateKey) ([]byte, error) {
	return note.Sign(&note.Note{Text: c.Text()}, noteSigner{name: name, key: key})
}

// VerifierKey is the note verifier key of a member ("NAME+HASH+KEY"),
// what an outside auditor gives note.NewVerifier.
func VerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	return note.NewEd25519VerifierKey(name, pub)
}

// OpenCheckpoint verifies a signed checkpoint note against the members'
// public keys (by name) and parses it; it returns the checkpoint and the
// names of the members whose signatures verified.
func OpenCheckpoint(msg []byte, pubs map[string]ed25519.PublicKey) (Checkpoint, []string, error) {
	var vs []note.Verifier
	for name, pub := range pubs {
		vk, err := VerifierKey(name, pub)
		if err != nil {
			return Checkpoint{}, nil, err
		}
		v, err := note.NewVerifier(vk)
		if err != nil {
			return Checkpoint{}, nil, err
		}
		vs = append(vs, v)
	}
	n, err := note.Open(msg, note.VerifierList(vs...))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	var names []string
	for _, s := range n.Sigs {
		names = append(names, s.Name)
	}
	return c, names, nil
}
