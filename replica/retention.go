package replica

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
)

// A retention base (docs/audit.md, "Retention") stands for the records
// 1..R of a member's history that retention dropped or archived: what a
// HistoryVerifier knew after record R. It keeps every origin's chain head
// (so the retained records still link to the dropped ones), the hashes of
// transactions no checkpoint covered yet, every stored hash of the RFC
// 6962 tree (so consistency and inclusion proofs against every tree head
// still work; only the data of the dropped leaves is gone), every signed
// tree head, and the counters of the report. Layout, integers big-endian:
//
//	"spook audit base\n" | version 1 (1) | R u64 |
//	records, transactions, checkpoints, repairs, resumed, joins u64 |
//	size, last index, unrecomputed u64 |
//	heads: count u32, each origin u64 | counter u64 | hash (32) |
//	pending: count u32, each origin u64 | counter u64 | hash (32) |
//	tree: leaves u64 | stored hashes (32 each, tlog.StoredHashCount(leaves)) |
//	start: index u64 | size u64 | root (32) | cut: count u32, each node u64 | counter u64 |
//	notes: count u32, each record u64 | length u32 | signed note |
//	SHA-256 of everything before (32)
const baseMagic = "spook audit base\n"

const baseVersion = 1

// ErrBase: a retention base that is damaged or contradicts itself or the
// members' keys.
var ErrBase = errors.New("replica: bad audit retention base")

// historyBase is what LoadBase restored.
type historyBase struct {
	// start is the checkpoint the first note follows: zero, or the one
	// a join snapshot started the history from.
	start  audit.Checkpoint
	record uint64
	cut    causal.VersionVector // the cut of the base's last checkpoint
	index  uint64               // that checkpoint's index
}

// AppendBase appends to dst the base standing for every record read so
// far, the last being record. The verifier must have kept every note
// (KeepNotes or KeepProofs) since record 1 or its own base.
func (v *HistoryVerifier) AppendBase(dst []byte, record uint64) []byte {
	start := len(dst)
	dst = append(dst, baseMagic...)
	dst = append(dst, baseVersion)
	dst = binary.BigEndian.AppendUint64(dst, record)
	r := v.report
	for _, x := range []uint64{uint64(r.Records), uint64(r.Transactions), uint64(r.Checkpoints), uint64(r.Repairs),
		uint64(r.Resumed), uint64(r.Joins), uint64(r.Size), r.LastIndex, r.Unrecomputed} {
		dst = binary.BigEndian.AppendUint64(dst, x)
	}
	origins := v.chains.Origins()
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(origins)))
	for _, o := range origins {
		h, _ := v.chains.Head(o)
		dst = appendDotHash(dst, causal.Dot{Node: causal.NodeID(o), Counter: h.Counter}, h.Hash)
	}
	dots := make([]causal.Dot, 0, len(v.pending))
	for d := range v.pending {
		dots = append(dots, d)
	}
	slices.SortFunc(dots, func(a, b causal.Dot) int {
		if a.Node != b.Node {
			return cmpU64(uint64(a.Node), uint64(b.Node))
		}
		return cmpU64(a.Counter, b.Counter)
	})
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(dots)))
	for _, d := range dots {
		dst = appendDotHash(dst, d, v.pending[d])
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.tree.Size()))
	for _, h := range v.tree.StoredHashes() {
		dst = append(dst, h[:]...)
	}
	first := v.base.start
	if len(v.notes) == 0 {
		first = v.last
	}
	dst = binary.BigEndian.AppendUint64(dst, first.Index)
	dst = binary.BigEndian.AppendUint64(dst, uint64(first.N))
	dst = append(dst, first.Root[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(first.Cut.Len()))
	for _, e := range first.Cut.Entries() {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.Node))
		dst = binary.BigEndian.AppendUint64(dst, e.Counter)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(v.notes)))
	for _, c := range v.notes {
		dst = binary.BigEndian.AppendUint64(dst, c.Record)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.Note)))
		dst = append(dst, c.Note...)
	}
	sum := sha256.Sum256(dst[start:])
	return append(dst, sum[:]...)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func appendDotHash(dst []byte, d causal.Dot, h audit.Hash) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(d.Node))
	dst = binary.BigEndian.AppendUint64(dst, d.Counter)
	return append(dst, h[:]...)
}

// baseReader reads a base's fields; the first short read sticks.
type baseReader struct {
	b   []byte
	bad bool
}

func (r *baseReader) take(n int) []byte {
	if r.bad || n < 0 || len(r.b) < n {
		r.bad = true
		return make([]byte, max(n, 0))
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}
func (r *baseReader) u64() uint64 { return binary.BigEndian.Uint64(r.take(8)) }
func (r *baseReader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *baseReader) dotHash() (causal.Dot, audit.Hash) {
	d := causal.Dot{Node: causal.NodeID(r.u64()), Counter: r.u64()}
	return d, audit.Hash(r.take(audit.HashBytes))
}

// LoadBase restores a fresh verifier from a base (AppendBase) and returns
// the last record it stands for: read the history from the record after
// it. It checks what a base can prove without the dropped records: its
// checksum; every tree head signed by Self, in order, for this cluster;
// the root of every recomputed tree head equal to the root of the kept
// hashes, and each consistent with the one before (tlog.CheckTree). The
// chain heads and pending hashes are taken as the node recorded them
// when it dropped the records (an archive lets `spook audit verify
// --archive` check them again from record 1).
func (v *HistoryVerifier) LoadBase(data []byte) (uint64, error) {
	fail := func(format string, args ...any) (uint64, error) {
		return 0, fmt.Errorf("%w: "+format, append([]any{ErrBase}, args...)...)
	}
	if len(data) < len(baseMagic)+1+sha256.Size || !bytes.HasPrefix(data, []byte(baseMagic)) {
		return fail("not a base (no %q header)", baseMagic[:len(baseMagic)-1])
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return fail("checksum mismatch")
	}
	r := &baseReader{b: body[len(baseMagic):]}
	if ver := r.take(1)[0]; ver != baseVersion {
		return fail("version %d, this binary reads %d", ver, baseVersion)
	}
	record := r.u64()
	var rep HistoryReport
	rep.Records, rep.Transactions, rep.Checkpoints = int(r.u64()), int(r.u64()), int(r.u64())
	rep.Repairs, rep.Resumed, rep.Joins, rep.Size = int(r.u64()), int(r.u64()), int(r.u64()), int64(r.u64())
	rep.LastIndex, rep.Unrecomputed = r.u64(), r.u64()
	var chains audit.Chains
	for i, n := 0, r.u32(); !r.bad && i < int(n); i++ {
		d, h := r.dotHash()
		chains.Advance(uint64(d.Node), d.Counter, h)
	}
	pending := map[causal.Dot]audit.Hash{}
	for i, n := 0, r.u32(); !r.bad && i < int(n); i++ {
		d, h := r.dotHash()
		pending[d] = h
	}
	leaves := int64(r.u64())
	if leaves < 0 || leaves > int64(len(r.b)) { // two hashes per leaf at most: a cheap bound first
		return fail("tree of %d leaves", leaves)
	}
	count := tlog.StoredHashCount(leaves)
	stored := make([]tlog.Hash, count)
	for i := range stored {
		stored[i] = tlog.Hash(r.take(tlog.HashSize))
	}
	start := audit.Checkpoint{Cluster: v.Cluster, Index: r.u64(), N: int64(r.u64()), Root: tlog.Hash(r.take(tlog.HashSize))}
	for i, n := 0, r.u32(); !r.bad && i < int(n); i++ {
		node, counter := r.u64(), r.u64()
		if node == 0 || counter == 0 || start.Cut.Get(causal.NodeID(node)) != 0 {
			r.bad = true
			break
		}
		start.Cut.Set(causal.NodeID(node), counter)
	}
	var notes [][]byte
	var records []uint64
	for i, n := 0, r.u32(); !r.bad && i < int(n); i++ {
		records = append(records, r.u64())
		notes = append(notes, bytes.Clone(r.take(int(r.u32()))))
	}
	if r.bad || len(r.b) != 0 {
		return fail("truncated or trailing bytes")
	}
	tree, err := audit.RestoreHashLog(leaves, stored)
	if err != nil {
		return fail("%v", err)
	}
	if rep.Unrecomputed == 0 && leaves != rep.Size {
		return fail("tree of %d leaves, the report says %d", leaves, rep.Size)
	}
	v.tree = tree
	v.report = rep
	v.last = start
	for i, note := range notes {
		// checkpoint checks signature, order and cluster, and (while
		// roots are recomputed) the root and consistency; appending
		// leaves does not happen: pending is empty during the replay.
		if err := v.baseCheckpoint(records[i], note); err != nil {
			return fail("tree head %d: %v", i+1, err)
		}
	}
	if start.Index+uint64(len(notes)) != rep.LastIndex {
		return fail("%d tree heads after checkpoint %d, the last checkpoint is %d", len(notes), start.Index, rep.LastIndex)
	}
	v.report = rep
	v.chains = chains
	if rep.Unrecomputed == 0 {
		v.pending = pending
	}
	v.report.BaseRecord, v.report.BaseCheckpoint, v.report.BaseTransactions = record, rep.LastIndex, rep.Transactions
	v.base = historyBase{start: start, record: record, cut: v.last.Cut.Clone(), index: v.last.Index}
	return record, nil
}

// baseCheckpoint replays one of a base's tree heads through checkpoint,
// with the tree already holding every leaf: the root must be that of the
// first N kept leaves.
func (v *HistoryVerifier) baseCheckpoint(record uint64, note []byte) error {
	full := v.tree
	if v.report.Unrecomputed == 0 || v.last.Index+1 < v.report.Unrecomputed {
		c, err := audit.ParseCheckpoint(noteText(note))
		if err != nil {
			return err
		}
		if c.N > full.Size() {
			return fmt.Errorf("size %d beyond the %d kept leaves", c.N, full.Size())
		}
		root, err := full.Root(c.N)
		if err != nil {
			return err
		}
		if root != c.Root {
			return fmt.Errorf("%w: root %s is not the root of the kept hashes (%s)", audit.ErrCheckpoint, c.Root, root)
		}
		if v.last.N > 0 {
			p, err := full.ProveTree(v.last.N, c.N)
			if err == nil {
				err = tlog.CheckTree(p, c.N, c.Root, v.last.N, v.last.Root)
			}
			if err != nil {
				return fmt.Errorf("%w: not consistent with checkpoint %d: %v", audit.ErrCheckpoint, v.last.Index, err)
			}
		}
	}
	saved, keep := v.report, v.KeepNotes
	v.report.Unrecomputed = 1 // order and signature only: the roots were checked above
	v.KeepNotes = true
	err := v.checkpoint(record, note)
	unrec := saved.Unrecomputed
	v.report = saved
	v.report.Unrecomputed = unrec
	v.KeepNotes = keep
	if err != nil {
		var he *HistoryError
		if errors.As(err, &he) {
			return he.Err
		}
		return err
	}
	return nil
}

// noteText is a signed note's text: everything before the blank line
// that starts its signatures (note.Open has checked the signatures by
// then, in checkpoint; here the text is only parsed).
func noteText(note []byte) string {
	if i := bytes.LastIndex(note, []byte("\n\n")); i >= 0 {
		return string(note[:i+1])
	}
	return string(note)
}

// droppedErr says why dot has no leaf: retention dropped the records of
// the checkpoints up to the base's (nil when it did not).
func (v *HistoryVerifier) droppedErr(dot causal.Dot) error {
	if v.base.record == 0 || !v.base.cut.Contains(dot) {
		return nil
	}
	return fmt.Errorf("%w: transaction %s is covered by checkpoint %d or before, whose records (1..%d) this node no longer keeps; the tree heads and hashes are kept, the transaction is not",
		audit.ErrDropped, dot, v.base.index, v.base.record)
}

// Base reports the base LoadBase restored: the last record it stands
// for and its last checkpoint (0, 0 when the history was read from
// record 1).
func (v *HistoryVerifier) Base() (record, checkpoint uint64) { return v.base.record, v.base.index }

// Checkpoints returns every note kept (KeepNotes or KeepProofs), oldest
// first.
func (v *HistoryVerifier) Checkpoints() []SignedCheckpoint { return v.notes }
