package trace

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/spooksystems/spook/internal/codec"
	"github.com/spooksystems/spook/seq"
)

// ErrReplay is returned when a patch does not fit the document it applies
// to (a position beyond its end) or a history record does not decode.
var ErrReplay = errors.New("trace: replay failed")

// limits bounds decoded content like crdt's text operations.
var limits = seq.Limits{MaxContentBytes: 1 << 30}

// History is the encoded operations of a replay, one record per
// transaction (in trace order):
//
//	node, counter   the transaction's dot (uvarints)
//	steps           count, then per step a kind byte (0 insertion, 1
//	                deletion) and seq.AppendInsert or seq.AppendRanges
//	                relative to the dot
//
// Records holds each record's end offset in Bytes.
type History struct {
	Bytes   []byte
	Records []int
}

// record returns record i.
func (h *History) record(i int) []byte {
	start := 0
	if i > 0 {
		start = h.Records[i-1]
	}
	return h.Bytes[start:h.Records[i]]
}

// replica is one agent's document.
type replica struct {
	s       *seq.Seq[seq.Text]
	node    uint64
	counter uint64
	ranges  []seq.Range
	text    []byte // scratch: the inserted text (the sequence copies it)
	applied []bool // concurrent traces: transactions integrated
}

// local makes tx's patches as local operations on r and appends the
// encoded record to dst.
func (r *replica) local(tx *Txn, dst []byte) ([]byte, error) {
	r.counter++
	inserted, steps := 0, 0
	for _, p := range tx.Patches {
		inserted += utf8.RuneCountInString(p.Ins)
		if p.Del > 0 {
			steps++
		}
		if p.Ins != "" {
			steps++
		}
	}
	dst = codec.AppendUvarint(dst, r.node)
	dst = codec.AppendUvarint(dst, r.counter)
	dst = codec.AppendUvarint(dst, uint64(steps))
	offset := uint64(0)
	for _, p := range tx.Patches {
		if p.Pos+p.Del > r.s.Len() {
			return dst, fmt.Errorf("%w: patch %d+%d beyond length %d", ErrReplay, p.Pos, p.Del, r.s.Len())
		}
		if p.Del > 0 {
			r.ranges = r.s.Delete(p.Pos, p.Del, r.ranges[:0])
			dst = append(dst, 1)
			dst = seq.AppendRanges(dst, r.ranges, r.node, r.counter)
		}
		if p.Ins != "" {
			n := utf8.RuneCountInString(p.Ins)
			r.text = append(r.text[:0], p.Ins...)
			op := r.s.Insert(p.Pos, seq.ID{Node: r.node, Counter: r.counter, Offset: offset}, n, seq.Text(r.text), inserted == 1)
			dst = append(dst, 0)
			dst = seq.AppendInsert(dst, &op, r.node, r.counter)
			offset += uint64(n)
		}
	}
	return dst, nil
}

// step is one decoded step of a record.
type step struct {
	ins    seq.Insert[seq.Text]
	del    bool
	ranges []seq.Range // a deletion's ranges; kept empty by an insertion for reuse
}

// applyRecord decodes one history record and integrates it into s.
func applyRecord(s *seq.Seq[seq.Text], rec []byte, steps []step) ([]step, error) {
	steps, err := decodeRecord(rec, steps)
	if err != nil {
		return steps, err
	}
	return steps, applySteps(s, steps)
}

// decodeRecord decodes one history record into steps (reusing their
// storage); an insertion's Sole is set.
func decodeRecord(rec []byte, steps []step) ([]step, error) {
	r := codec.NewReader(rec)
	node, counter := seq.Uvarint(r, "node"), seq.Uvarint(r, "counter")
	n := seq.Count(r, "steps", 1<<30, 2)
	old := steps[:cap(steps)]
	steps = steps[:0]
	offset, inserted := uint64(0), 0
	for i := 0; i < n && r.Err() == nil; i++ {
		var st step
		if i < len(old) {
			st.ranges = old[i].ranges[:0] // this record's earlier steps do not hold it
		}
		switch r.Byte("kind") {
		case 0:
			st.ins = seq.DecodeInsert[seq.Text](r, node, counter, offset, limits)
			offset += uint64(st.ins.N)
			inserted += st.ins.N
		case 1:
			st.del = true
			st.ranges = seq.AppendDecodedRanges(st.ranges, r, node, counter, 1<<30)
		default:
			r.Fail("kind", seq.ErrInvalid)
		}
		steps = append(steps, st)
	}
	if err := r.Finish(); err != nil {
		return steps, fmt.Errorf("%w: %v", ErrReplay, err)
	}
	for i := range steps {
		steps[i].ins.Sole = inserted == 1
	}
	return steps, nil
}

// applySteps integrates decoded steps into s.
func applySteps(s *seq.Seq[seq.Text], steps []step) error {
	for i := range steps {
		st := &steps[i]
		if st.del {
			if err := s.DeleteRanges(st.ranges); err != nil {
				return fmt.Errorf("%w: %v", ErrReplay, err)
			}
			continue
		}
		if err := s.Integrate(st.ins); err != nil {
			return fmt.Errorf("%w: %v", ErrReplay, err)
		}
	}
	return nil
}

// Local replays t as local operations on sequence replicas (one per
// agent) and returns the final document (agent 0's for a sequential
// trace; for a concurrent one, the replica of the last transaction's
// agent after it has integrated every transaction) and the encoded
// history.
func Local(t *Trace) (*seq.Seq[seq.Text], *History, error) {
	reps := make([]*replica, t.Agents)
	for i := range reps {
		reps[i] = &replica{s: seq.New[seq.Text](), node: uint64(i + 1)}
		if t.Concurrent {
			reps[i].applied = make([]bool, len(t.Txns))
		}
	}
	h := &History{Bytes: make([]byte, 0, 8*len(t.Txns)), Records: make([]int, 0, len(t.Txns))}
	var err error
	if t.Start != "" {
		// The start content is the history's first record (not an op).
		start := Txn{Patches: []Patch{{Ins: t.Start}}}
		if h.Bytes, err = reps[0].local(&start, h.Bytes); err != nil {
			return nil, nil, err
		}
		h.Records = append(h.Records, len(h.Bytes))
	}
	var steps []step
	var closure []int
	for i := range t.Txns {
		tx := &t.Txns[i]
		r := reps[tx.Agent]
		if t.Concurrent {
			closure = r.missing(t, tx.Parents, closure[:0])
			for _, j := range closure {
				if steps, err = applyRecord(r.s, h.record(j), steps); err != nil {
					return nil, nil, err
				}
				r.applied[j] = true
			}
			r.applied[i] = true
		}
		if h.Bytes, err = r.local(tx, h.Bytes); err != nil {
			return nil, nil, fmt.Errorf("txn %d: %w", i, err)
		}
		h.Records = append(h.Records, len(h.Bytes))
	}
	final := reps[0]
	if t.Concurrent {
		final = reps[0]
		all := make([]int, len(t.Txns))
		for i := range all {
			all[i] = i
		}
		for _, j := range final.missing(t, all, nil) {
			if steps, err = applyRecord(final.s, h.record(j), steps); err != nil {
				return nil, nil, err
			}
			final.applied[j] = true
		}
	}
	return final.s, h, nil
}

// missing returns, in index order, the transactions in the causal closure
// of from that r has not integrated.
func (r *replica) missing(t *Trace, from []int, out []int) []int {
	return missingFrom(t, r.applied, from, out)
}

// missingFrom appends to out, in index order, the transactions in the
// causal closure of from that applied does not mark.
func missingFrom(t *Trace, applied []bool, from []int, out []int) []int {
	stack := slices.Clone(from)
	seen := map[int]bool{}
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if applied[j] || seen[j] {
			continue
		}
		seen[j] = true
		out = append(out, j)
		stack = append(stack, t.Txns[j].Parents...)
	}
	slices.Sort(out)
	return out
}

// Merge integrates a whole history as remote operations into an empty
// sequence, in record order (a causal order). Consecutive records that
// continue one node's typed run (each one element after the previous
// record's, before the same origin right) are integrated together
// (seq.Seq.IntegrateRun), and consecutive records that only delete are
// applied as one deletion, single elements of consecutive counters
// joined into one range: the same result as record by record.
func Merge(h *History) (*seq.Seq[seq.Text], error) {
	m := merger{s: seq.New[seq.Text]()}
	var err error
	for i := range h.Records {
		if m.steps, err = decodeRecord(h.record(i), m.steps); err == nil {
			err = m.add()
		}
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	if err := m.flush(); err != nil {
		return nil, err
	}
	return m.s, nil
}

// merger batches a history's records for Merge.
type merger struct {
	s     *seq.Seq[seq.Text]
	steps []step
	run   seq.Insert[seq.Text] // the pending run's first insertion (k > 0)
	k     int
	text  []byte // the pending run's content
	dels  []seq.Range
}

// add takes the decoded record in m.steps.
func (m *merger) add() error {
	if len(m.steps) == 1 && !m.steps[0].del && m.steps[0].ins.N == 1 && m.steps[0].ins.Sole {
		ins := &m.steps[0].ins
		if err := m.flushDeletions(); err != nil {
			return err
		}
		prev := seq.ID{Node: m.run.ID.Node, Counter: m.run.ID.Counter + uint64(m.k-1)}
		if m.k > 0 && ins.ID.Node == m.run.ID.Node && ins.ID.Counter == prev.Counter+1 && ins.ID.Offset == 0 && ins.Left == prev && ins.Right == m.run.Right {
			m.k++
			m.text = append(m.text, ins.Content...)
			return nil
		}
		if err := m.flushRun(); err != nil {
			return err
		}
		m.run, m.k = *ins, 1
		m.text = append(m.text[:0], ins.Content...)
		return nil
	}
	if err := m.flushRun(); err != nil {
		return err
	}
	deletes := true
	for i := range m.steps {
		deletes = deletes && m.steps[i].del
	}
	if !deletes {
		if err := m.flushDeletions(); err != nil {
			return err
		}
		return applySteps(m.s, m.steps)
	}
	for i := range m.steps {
		for _, r := range m.steps[i].ranges {
			m.addDeletion(r)
		}
	}
	return nil
}

// addDeletion adds r to the pending deletion, joined to its last range
// when both are single elements or counter ranges of one node with
// adjacent counters (backspacing or deleting forwards).
func (m *merger) addDeletion(r seq.Range) {
	if n := len(m.dels); n > 0 {
		p := &m.dels[n-1]
		if p.ID.Node == r.ID.Node && p.ID.Offset == 0 && r.ID.Offset == 0 && (p.Counter || p.N == 1) && (r.Counter || r.N == 1) {
			switch {
			case r.ID.Counter+uint64(r.N) == p.ID.Counter:
				p.ID, p.N, p.Counter = r.ID, p.N+r.N, true
				return
			case p.ID.Counter+uint64(p.N) == r.ID.Counter:
				p.N, p.Counter = p.N+r.N, true
				return
			}
		}
	}
	m.dels = append(m.dels, r)
}

func (m *merger) flushRun() error {
	if m.k == 0 {
		return nil
	}
	var err error
	if m.k == 1 {
		m.run.Content = seq.Text(m.text)
		err = m.s.Integrate(m.run)
	} else {
		err = m.s.IntegrateRun(m.run, m.k, seq.Text(m.text))
	}
	m.k = 0
	if err != nil {
		return fmt.Errorf("%w: %v", ErrReplay, err)
	}
	return nil
}

func (m *merger) flushDeletions() error {
	if len(m.dels) == 0 {
		return nil
	}
	err := m.s.DeleteRanges(m.dels)
	m.dels = m.dels[:0]
	if err != nil {
		return fmt.Errorf("%w: %v", ErrReplay, err)
	}
	return nil
}

func (m *merger) flush() error {
	if err := m.flushRun(); err != nil {
		return err
	}
	return m.flushDeletions()
}

// String returns a text sequence's content.
func String(s *seq.Seq[seq.Text]) string {
	b := make([]byte, 0, s.Len())
	s.Scan(0, func(run seq.Text, n int) bool {
		b = append(b, run...)
		return true
	})
	return string(b)
}
