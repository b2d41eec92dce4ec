package crdt

import (
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/seq"
)

// seqBuild is what a Builder knows about one key's list or text as the
// transaction sees it. Operations are planned against a view: the stored
// sequence while the transaction has not changed it (no copy: the common
// single-operation transaction costs one O(log n) lookup), else a working
// copy made once (O(n)) with the pending operation applied, which later
// operations of the transaction then update in place.
type seqBuild[T seq.Content[T]] struct {
	base   *seq.Seq[T] // the stored component; nil if none
	work   *seq.Seq[T] // base with the pending operation applied; nil until needed
	op     **seqOp[T]  // the keyBuild's pending operation field
	n      int         // visible elements as the transaction sees them
	offset uint64      // elements the pending operation inserts: the next offset
	hdr    *txnHeader  // the transaction's dot, time and deps
	deps   *causal.Context
}

// listView and textView name the two instantiations in keyBuild.
type (
	listView = seqBuild[seq.Values]
	textView = seqBuild[seq.Text]
)

// newSeqBuild returns the view of a key whose pending operation is *op
// (nil, or a clear of the observed elements from clearValue).
func newSeqBuild[T seq.Content[T]](base *seq.Seq[T], op **seqOp[T], hdr *txnHeader) *seqBuild[T] {
	sb := &seqBuild[T]{base: base, op: op, hdr: hdr, deps: hdr.deps}
	if base != nil {
		sb.n = base.Len()
		if *op != nil && (*op).observed {
			for _, r := range base.Observed(sb.observed, nil) {
				sb.n -= r.N
			}
		}
	}
	return sb
}

func (sb *seqBuild[T]) observed(node, counter uint64) bool {
	return sb.deps.Contains(causal.Dot{Node: causal.NodeID(node), Counter: counter})
}

// view returns the sequence as the transaction sees it (nil: empty). It
// must not be changed except through the seqBuild.
func (sb *seqBuild[T]) view() *seq.Seq[T] {
	if sb.work != nil || (*sb.op).empty() {
		if sb.work != nil {
			return sb.work
		}
		return sb.base
	}
	if sb.base != nil {
		sb.work = sb.base.Clone()
	}
	sb.work = applySeq(sb.work, *sb.op, sb.hdr, func(c T) T { return c })
	return sb.work
}

// pending returns the pending operation, creating it.
func (sb *seqBuild[T]) pending() *seqOp[T] {
	if *sb.op == nil {
		*sb.op = &seqOp[T]{}
	}
	return *sb.op
}

// insert records the insertion of n elements (content, already copied)
// at visible position pos (0 ≤ pos ≤ sb.n).
func (sb *seqBuild[T]) insert(pos, n int, content T) {
	v := sb.view()
	id := seq.ID{Node: uint64(sb.hdr.dot.Node), Counter: sb.hdr.dot.Counter, Offset: sb.offset}
	ins := seq.Insert[T]{ID: id, N: n, Content: content}
	if v != nil {
		ins = v.PlanInsert(pos, id, n, content, false)
	}
	op := sb.pending()
	op.steps = append(op.steps, seqStep[T]{ins: ins})
	if sb.work != nil {
		sb.work.Integrate(ins)
	}
	sb.offset += uint64(n)
	sb.n += n
}

// remove records the deletion of the visible elements at the given
// ranges of positions [from, to), planned together against the current
// view, as one step; it returns how many it deletes.
func (sb *seqBuild[T]) remove(spans ...[2]int) int {
	v := sb.view()
	if v == nil {
		return 0
	}
	var ranges []seq.Range
	deleted := 0
	for _, sp := range spans {
		from, to := max(sp[0], 0), min(sp[1], sb.n)
		if from >= to {
			continue
		}
		ranges = v.PlanDelete(from, to-from, ranges)
		deleted += to - from
	}
	if deleted == 0 {
		return 0
	}
	op := sb.pending()
	op.steps = append(op.steps, seqStep[T]{ranges: ranges})
	if sb.work != nil {
		sb.work.DeleteRanges(ranges)
	}
	sb.n -= deleted
	return deleted
}

// clearSeqs makes op (being reset by clearValue) delete the observed
// elements of base's list and text, if any is visible.
func clearSeqs(op *valueOp, base *Value) {
	op.list, op.text = nil, nil
	if s := base.listSeq(); s != nil && s.Len() > 0 {
		op.list = &seqOp[seq.Values]{observed: true}
	}
	if s := base.textSeq(); s != nil && s.Len() > 0 {
		op.text = &seqOp[seq.Text]{observed: true}
	}
}

// seqSlots counts the MaxTxnOps slots of op's sequence parts: one per
// step and one per list element inserted.
func seqSlots(op *valueOp) int {
	n := 0
	if op.list != nil {
		n += len(op.list.steps)
		for i := range op.list.steps {
			n += len(op.list.steps[i].ins.Content)
		}
	}
	if op.text != nil {
		n += len(op.text.steps)
	}
	return n
}

// listBuild returns kb's list view, creating it.
func (b *Builder) listBuild(kb *keyBuild) *seqBuild[seq.Values] {
	if kb.list == nil {
		kb.list = newSeqBuild(kb.base.listSeq(), &kb.op.list, &b.hdr)
	}
	return kb.list
}

// textBuild returns kb's text view, creating it.
func (b *Builder) textBuild(kb *keyBuild) *seqBuild[seq.Text] {
	if kb.text == nil {
		kb.text = newSeqBuild(kb.base.textSeq(), &kb.op.text, &b.hdr)
	}
	return kb.text
}

// listLen is the list's visible length as the transaction sees it.
func (b *Builder) listLen(kb *keyBuild) int {
	if kb.list == nil && kb.base.listSeq() == nil {
		return 0
	}
	return b.listBuild(kb).n
}

// textLen is the text's length as the transaction sees it.
func (b *Builder) textLen(kb *keyBuild) int {
	if kb.text == nil && kb.base.textSeq() == nil {
		return 0
	}
	return b.textBuild(kb).n
}
