package crdt

import (
	"strings"
	"unicode/utf8"

	"github.com/spooksystems/spook/seq"
)

// Text: a collaborative string on the sequence CRDT (sequence.go).
// Positions and lengths count Unicode code points. Operations return
// ErrWrongType on a key whose visible type is not text (or nothing),
// ErrRange for a position outside the text and ErrNotText for bytes that
// are not UTF-8; a failed operation changes nothing.

// textOp prepares a text operation on key.
func (b *Builder) textOp(key []byte) (*keyBuild, bool, *seqBuild[seq.Text], error) {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return nil, false, nil, err
	}
	if err := b.typed(kb, TypeText); err != nil {
		return nil, false, nil, err
	}
	return kb, fresh, b.textBuild(kb), nil
}

// TextInsert inserts str at code point position pos (0 ≤ pos ≤ length)
// and returns the new length. An empty str is a no-op. Text typed
// concurrently at one place by two writers never interleaves: each run
// stays whole, in a deterministic order (docs/semantics.md).
func (b *Builder) TextInsert(key []byte, pos int, str []byte) (int, error) {
	if !utf8.Valid(str) {
		return 0, ErrNotText
	}
	kb, fresh, sb, err := b.textOp(key)
	if err != nil {
		return 0, err
	}
	if pos < 0 || pos > sb.n {
		return 0, ErrRange
	}
	n := utf8.RuneCount(str)
	if n == 0 {
		return sb.n, nil
	}
	if len(str) > MaxTxnBytes || sb.n+n > MaxListLen {
		return 0, ErrTooLarge
	}
	if b.ops+1 > MaxTxnOps {
		return 0, ErrTxnTooBig
	}
	before := seqSlots(&kb.op)
	sb.insert(pos, n, seq.Text(b.copy(str)))
	b.ops += seqSlots(&kb.op) - before
	b.commit(kb, fresh)
	return sb.n, nil
}

// TextDelete deletes up to n code points from position pos and returns
// how many it deleted. Deleting what another writer deletes concurrently
// deletes it once; text inserted concurrently inside the span survives.
func (b *Builder) TextDelete(key []byte, pos, n int) (int, error) {
	kb, fresh, sb, err := b.textOp(key)
	if err != nil {
		return 0, err
	}
	if pos < 0 || pos > sb.n {
		return 0, ErrRange
	}
	if b.ops+1 > MaxTxnOps {
		return 0, ErrTxnTooBig
	}
	before := seqSlots(&kb.op)
	d := sb.remove([2]int{pos, pos + n})
	if d > 0 {
		b.ops += seqSlots(&kb.op) - before
		b.commit(kb, fresh)
	}
	return d, nil
}

// TextLen is the number of code points of the text component (0 if
// none).
func (v *Value) TextLen() int {
	if s := v.textSeq(); s != nil {
		return s.Len()
	}
	return 0
}

// Text returns the text component's content ("" if none), a copy.
func (v *Value) Text() string {
	return v.TextRange(0, v.TextLen())
}

// TextRange returns up to n code points from position pos, a copy.
func (v *Value) TextRange(pos, n int) string {
	s := v.textSeq()
	if s == nil || n <= 0 {
		return ""
	}
	var b strings.Builder
	s.Scan(pos, func(run seq.Text, k int) bool {
		if k > n {
			run = run.Slice(k, 0, n)
			k = n
		}
		b.Write(run)
		n -= k
		return n > 0
	})
	return b.String()
}

// TextID returns the identity of the code point at position pos, which
// stays attached to that character while others edit around it: a client
// keeps a cursor stable across remote edits by holding it and mapping it
// back with TextPosition. It reports false outside the text.
func (v *Value) TextID(pos int) (seq.ID, bool) {
	s := v.textSeq()
	if s == nil || pos < 0 || pos >= s.Len() {
		return seq.ID{}, false
	}
	return s.At(pos), true
}

// TextPosition returns the position of the code point id, or -1 if the
// text does not hold it or it was deleted.
func (v *Value) TextPosition(id seq.ID) int {
	s := v.textSeq()
	if s == nil {
		return -1
	}
	return s.IndexOf(id)
}
