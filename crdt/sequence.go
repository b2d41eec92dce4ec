package crdt

import (
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
	"github.com/spooksystems/spook/seq"
)

// Sequences: the list and text components, both package seq's sequence
// CRDT (list elements are byte strings, text elements code points). An
// element's ID is (the inserting transaction's dot, its offset among the
// elements that transaction inserted into this key), so the operation
// carries no IDs for what it inserts. An operation is an optional clear
// of the observed elements (DEL, SET, a write to an expired key: every
// visible element whose dot lies in Deps is deleted, so a concurrent
// insertion survives) followed by steps in order: insertions (origins and
// content) and deletions (ID ranges). Deleted elements stay as tombstones
// without content: a concurrent insertion may name one as its origin. A
// list or text that has only tombstones is hidden (Type does not report
// it) but kept, like a deleted counter, and Compact does not drop it (see
// Keyspace.Compact).

// Limits of the sequence components.
const (
	// MaxSequenceRunBytes bounds the content bytes of one run of a decoded
	// list or text state (runs of one transaction, or of one node's
	// consecutive single-element transactions); a larger one is refused.
	MaxSequenceRunBytes = 1 << 30
	// MaxListLen bounds the visible elements of one list and the code
	// points of one text: an insertion beyond it returns ErrTooLarge.
	MaxListLen = 1 << 30
)

// seqOp is the operation on a list or text component.
type seqOp[T seq.Content[T]] struct {
	observed bool // delete the visible elements whose dot is in Deps, first
	steps    []seqStep[T]
}

// listOp and textOp name the two instantiations in valueOp.
type (
	listOp = seqOp[seq.Values]
	textOp = seqOp[seq.Text]
)

// seqStep is one insertion (ranges nil) or deletion.
type seqStep[T seq.Content[T]] struct {
	ins    seq.Insert[T]
	ranges []seq.Range
}

func (o *seqOp[T]) empty() bool { return o == nil || (!o.observed && len(o.steps) == 0) }

// inserted is the number of elements the operation's insertions make.
func (o *seqOp[T]) inserted() int {
	n := 0
	for i := range o.steps {
		if o.steps[i].ranges == nil {
			n += o.steps[i].ins.N
		}
	}
	return n
}

func (v *Value) listSeq() *seq.Seq[seq.Values] {
	if p := v.extParts(); p != nil {
		return p.list
	}
	return nil
}

func (v *Value) textSeq() *seq.Seq[seq.Text] {
	if p := v.extParts(); p != nil {
		return p.text
	}
	return nil
}

func (v *Value) putList(s *seq.Seq[seq.Values]) {
	if s != nil && s.Total() == 0 {
		s = nil
	}
	if s != nil {
		v.extSlot().list = s
		return
	}
	if p := v.extParts(); p != nil {
		p.list = nil
		v.tidyExt()
	}
}

func (v *Value) putText(s *seq.Seq[seq.Text]) {
	if s != nil && s.Total() == 0 {
		s = nil
	}
	if s != nil {
		v.extSlot().text = s
		return
	}
	if p := v.extParts(); p != nil {
		p.text = nil
		v.tidyExt()
	}
}

// seqExt returns the ext… bits of the sequence components v holds.
func seqExt(v *Value) uint8 {
	var e uint8
	if v.listSeq() != nil {
		e |= extList
	}
	if v.textSeq() != nil {
		e |= extText
	}
	return e
}

// seqOpExt returns the ext… bits of the sequence operations op holds.
func seqOpExt(op *valueOp) uint8 {
	var e uint8
	if op.list != nil {
		e |= extList
	}
	if op.text != nil {
		e |= extText
	}
	return e
}

var (
	listLimits = seq.Limits{MaxElementBytes: MaxValueBytes, MaxContentBytes: MaxTxnBytes}
	textLimits = seq.Limits{MaxContentBytes: MaxTxnBytes}
	// State runs may hold several transactions' content.
	listStateLimits = seq.Limits{MaxElementBytes: MaxValueBytes, MaxContentBytes: MaxSequenceRunBytes}
	textStateLimits = seq.Limits{MaxContentBytes: MaxSequenceRunBytes}
)

// Step kinds in an encoded sequence operation.
const (
	stepInsert = 0
	stepDelete = 1
)

// appendSeqOp appends a sequence operation of the transaction dot:
//
//	header   steps<<1 | clear-observed
//	steps    kind byte (0 insertion, 1 deletion), then seq.AppendInsert
//	         or seq.AppendRanges relative to the dot
func appendSeqOp[T seq.Content[T]](dst []byte, o *seqOp[T], dot causal.Dot) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(o.steps))<<1|b2u(o.observed))
	for i := range o.steps {
		st := &o.steps[i]
		if st.ranges == nil {
			dst = append(dst, stepInsert)
			dst = seq.AppendInsert(dst, &st.ins, uint64(dot.Node), dot.Counter)
		} else {
			dst = append(dst, stepDelete)
			dst = seq.AppendRanges(dst, st.ranges, uint64(dot.Node), dot.Counter)
		}
	}
	return dst
}

// decodeSeqOp reads what appendSeqOp wrote. Steps and list elements
// count against budget (MaxTxnOps).
func decodeSeqOp[T seq.Content[T]](r *codec.Reader, dot causal.Dot, lim seq.Limits, budget *int) *seqOp[T] {
	n, observed := opCount(r, "sequence operation", budget)
	if r.Err() != nil {
		return nil
	}
	o := &seqOp[T]{observed: observed, steps: make([]seqStep[T], 0, n)}
	var offset uint64
	for i := 0; i < n && r.Err() == nil; i++ {
		var st seqStep[T]
		switch r.Byte("sequence step") {
		case stepInsert:
			st.ins = seq.DecodeInsert[T](r, uint64(dot.Node), dot.Counter, offset, lim)
			if r.Err() != nil {
				return nil
			}
			if vs, ok := any(st.ins.Content).(seq.Values); ok {
				if len(vs) > *budget {
					r.Fail("list elements", ErrTxnTooBig)
					return nil
				}
				*budget -= len(vs)
			}
			offset += uint64(st.ins.N)
		case stepDelete:
			st.ranges = seq.DecodeRanges(r, uint64(dot.Node), dot.Counter, MaxListLen)
		default:
			if r.Err() == nil {
				r.Fail("sequence step kind", ErrInvalid)
			}
		}
		o.steps = append(o.steps, st)
	}
	if r.Err() != nil {
		return nil
	}
	return o
}

// seqValid reports whether every element o names (origins, deleted
// elements) exists in s (nil: empty) or was inserted by an earlier step,
// and was made by a transaction in deps: what an honest writer can have
// observed. Apply checks it before changing anything, so every replica
// that applies the transaction accepts or refuses it alike.
func seqValid[T seq.Content[T]](s *seq.Seq[T], o *seqOp[T], dot causal.Dot, deps *causal.Context) bool {
	var offset uint64
	known := func(id seq.ID) bool {
		if id.IsZero() {
			return true
		}
		if causal.NodeID(id.Node) == dot.Node && id.Counter == dot.Counter {
			return id.Offset < offset
		}
		return deps.Contains(causal.Dot{Node: causal.NodeID(id.Node), Counter: id.Counter}) && s != nil && s.Has(id)
	}
	for i := range o.steps {
		st := &o.steps[i]
		if st.ranges == nil {
			if !known(st.ins.Left) || !known(st.ins.Right) || (!st.ins.Left.IsZero() && st.ins.Left == st.ins.Right) {
				return false
			}
			offset += uint64(st.ins.N)
			continue
		}
		for _, rg := range st.ranges {
			for j := 0; j < rg.N; j++ {
				if !known(rg.At(j)) {
					return false
				}
			}
		}
	}
	return true
}

// applySeq applies o to s (nil: a new sequence) and returns the result.
// The content o carries is copied: a decoded transaction aliases its
// input buffer.
func applySeq[T seq.Content[T]](s *seq.Seq[T], o *seqOp[T], t *txnHeader, copyContent func(T) T) *seq.Seq[T] {
	if s == nil {
		s = seq.New[T]()
	}
	if o.observed {
		s.DeleteRanges(s.Observed(func(node, counter uint64) bool {
			return t.deps.Contains(causal.Dot{Node: causal.NodeID(node), Counter: counter})
		}, nil))
	}
	sole := o.inserted() == 1
	for i := range o.steps {
		st := &o.steps[i]
		if st.ranges != nil {
			s.DeleteRanges(st.ranges)
			continue
		}
		ins := st.ins
		ins.Content = copyContent(ins.Content)
		ins.Sole = sole
		s.Integrate(ins)
	}
	return s
}

func copyText(t seq.Text) seq.Text { return append(seq.Text(nil), t...) }

func copyValues(vs seq.Values) seq.Values {
	out := make(seq.Values, len(vs))
	for i, v := range vs {
		out[i] = append([]byte(nil), v...)
	}
	return out
}

// applySeqs applies an operation's list and text parts to v.
func applySeqs(v *Value, op *valueOp, t *txnHeader) {
	if op.list != nil {
		v.putList(applySeq(v.listSeq(), op.list, t, copyValues))
	}
	if op.text != nil {
		v.putText(applySeq(v.textSeq(), op.text, t, copyText))
	}
}

// seqsValid is seqValid for every list and text operation of t, against
// ks's current state.
func (t *Txn) seqsValid(ks *Keyspace) bool {
	for i := range t.ops {
		o := &t.ops[i]
		if o.op.list == nil && o.op.text == nil {
			continue
		}
		base := ks.lookup(o.key)
		if o.op.list != nil && !seqValid(base.listSeq(), o.op.list, t.Dot, &t.Deps) {
			return false
		}
		if o.op.text != nil && !seqValid(base.textSeq(), o.op.text, t.Dot, &t.Deps) {
			return false
		}
	}
	return true
}

// appendSeqOps appends op's sequence parts in bit order.
func appendSeqOps(dst []byte, op *valueOp, dot causal.Dot) []byte {
	if op.list != nil {
		dst = appendSeqOp(dst, op.list, dot)
	}
	if op.text != nil {
		dst = appendSeqOp(dst, op.text, dot)
	}
	return dst
}

// decodeSeqOps reads the sequence parts ext announces.
func decodeSeqOps(r *codec.Reader, op *valueOp, ext uint8, dot causal.Dot, budget *int) {
	if ext&extList != 0 && r.Err() == nil {
		op.list = decodeSeqOp[seq.Values](r, dot, listLimits, budget)
	}
	if ext&extText != 0 && r.Err() == nil {
		op.text = decodeSeqOp[seq.Text](r, dot, textLimits, budget)
	}
}

// appendSeqStates appends v's sequence components in bit order.
func appendSeqStates(dst []byte, v *Value) []byte {
	if s := v.listSeq(); s != nil {
		dst = s.AppendState(dst)
	}
	if s := v.textSeq(); s != nil {
		dst = s.AppendState(dst)
	}
	return dst
}

// decodeSeqStates reads the sequence components ext announces; ctx, if
// not nil, must hold every element's dot.
func decodeSeqStates(r *codec.Reader, v *Value, ext uint8, ctx *causal.Context) {
	if ext&extList != 0 && r.Err() == nil {
		s, err := seq.DecodeState[seq.Values](r, listStateLimits)
		if err == nil && checkSeq(r, s, ctx) {
			v.putList(s)
		}
	}
	if ext&extText != 0 && r.Err() == nil {
		s, err := seq.DecodeState[seq.Text](r, textStateLimits)
		if err == nil && checkSeq(r, s, ctx) {
			v.putText(s)
		}
	}
}

// checkSeq refuses an empty sequence component and one whose elements'
// dots ctx (if not nil) lacks.
func checkSeq[T seq.Content[T]](r *codec.Reader, s *seq.Seq[T], ctx *causal.Context) bool {
	if s.Total() == 0 {
		r.Fail("sequence: empty", ErrInvalid)
		return false
	}
	if ctx == nil {
		return true
	}
	ok := true
	s.ScanAll(func(rg seq.Range) bool {
		for j := 0; j < rg.N && ok; j++ {
			id := rg.At(j)
			ok = ctx.Contains(causal.Dot{Node: causal.NodeID(id.Node), Counter: id.Counter})
			if !rg.Counter {
				break // one dot for the whole range
			}
		}
		return ok
	})
	if !ok {
		r.Fail(fmt.Sprintf("sequence element: dot outside the context"), ErrInvalid)
	}
	return ok
}

// joinSeqs joins b's sequence components into a's.
func joinSeqs(a, b *Value) {
	if bl := b.listSeq(); bl != nil {
		if al := a.listSeq(); al == nil {
			a.putList(bl.Clone())
		} else {
			al.Join(bl, nil)
		}
	}
	if bt := b.textSeq(); bt != nil {
		if at := a.textSeq(); at == nil {
			a.putText(bt.Clone())
		} else {
			at.Join(bt, nil)
		}
	}
}

// cloneSeqs copies v's sequence components into out.
func cloneSeqs(out, v *Value) {
	if s := v.listSeq(); s != nil {
		out.putList(s.Clone())
	}
	if s := v.textSeq(); s != nil {
		out.putText(s.Clone())
	}
}

// appendSeqDigests appends what the sequence components contribute to a
// value's hash: the ext byte, then each component's digest in bit order.
func appendSeqDigests(dst []byte, v *Value) []byte {
	if s := v.listSeq(); s != nil {
		dst = appendUint64(dst, s.Digest())
	}
	if s := v.textSeq(); s != nil {
		dst = appendUint64(dst, s.Digest())
	}
	return dst
}

func appendUint64(dst []byte, x uint64) []byte {
	return append(dst, byte(x), byte(x>>8), byte(x>>16), byte(x>>24), byte(x>>32), byte(x>>40), byte(x>>48), byte(x>>56))
}
